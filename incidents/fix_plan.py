"""The fix plan: solution options, the one chosen, and the record of each attempt to implement it.

A high-risk option is implemented only with a rollback plan written down
first, and only the chosen option can be implemented at all.
"""

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.choices import EntryKind, FixKind, ImplementationOutcome, RiskRating
from incidents.models import Implementation, Incident, SolutionOption
from incidents.response import check_active_user, clean_text, lock_for_response, person, require_manage_response
from incidents.timeline import Actor, record_entry, save_audited

# The fields `update_option` may change.
OPTION_FIELDS = ("title", "kind", "risk", "description", "notes", "rollback_plan")
TITLE_LENGTH = 200
# Clocks drift; an execution time a little in the future is not an error.
CLOCK_SKEW = dt.timedelta(minutes=5)


def _clean_option_field(field: str, value: Any) -> Any:
    if field == "title":
        return clean_text(value, "title", required=True, limit=TITLE_LENGTH)
    if field in ("kind", "risk"):
        choices = FixKind if field == "kind" else RiskRating
        if value not in choices.values:
            raise ValidationError({field: [_("%(value)r is not a valid choice.") % {"value": value}]})
        return value
    return clean_text(value, field)


def _describe(option: SolutionOption) -> dict[str, str]:
    return {"title": option.title, "kind": option.get_kind_display().lower(), "risk": option.get_risk_display().lower()}


def propose_option(
    *,
    incident: Incident,
    actor: Actor,
    title: str,
    kind: str,
    risk: str,
    description: str = "",
    notes: str = "",
    rollback_plan: str = "",
) -> SolutionOption:
    """Add a solution option to the incident's fix plan."""
    require_manage_response(actor)
    values = {
        field: _clean_option_field(field, value)
        for field, value in (
            ("title", title),
            ("kind", kind),
            ("risk", risk),
            ("description", description),
            ("notes", notes),
            ("rollback_plan", rollback_plan),
        )
    }
    with transaction.atomic():
        incident = lock_for_response(incident, actor)
        option = SolutionOption(
            incident=incident,
            created_by=actor if isinstance(actor, User) else None,
            created_at=timezone.now(),
            **values,
        )
        save_audited(option, actor=actor, reason="option proposed")
        record_entry(
            incident=incident,
            kind=EntryKind.FIX_PLAN,
            actor=actor,
            body=_("Solution option “%(title)s” proposed (%(kind)s, %(risk)s).") % _describe(option),
            data={"event": "proposed", "option": option.pk, "kind": option.kind, "risk": option.risk},
        )
    return option


def update_option(*, option: SolutionOption, actor: Actor, changes: dict[str, Any]) -> SolutionOption:
    """Change a solution option's details; the history keeps every version."""
    require_manage_response(actor)
    unknown = set(changes) - set(OPTION_FIELDS)
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed here.")] for field in sorted(unknown)})
    cleaned = {field: _clean_option_field(field, value) for field, value in changes.items()}
    with transaction.atomic():
        incident = lock_for_response(option.incident, actor)
        option = SolutionOption.objects.select_for_update().get(pk=option.pk, incident=incident)
        changed = [field for field, value in cleaned.items() if getattr(option, field) != value]
        if not changed:
            return option
        for field in changed:
            setattr(option, field, cleaned[field])
        save_audited(option, actor=actor, reason=f"option changed: {', '.join(changed)}")
    return option


def choose_option(*, option: SolutionOption, actor: Actor) -> SolutionOption:
    """Choose `option` for the fix; the option chosen before is un-chosen, both audited."""
    require_manage_response(actor)
    with transaction.atomic():
        incident = lock_for_response(option.incident, actor)
        options = {row.pk: row for row in SolutionOption.objects.select_for_update().filter(incident=incident)}
        option = options[option.pk]
        if option.is_chosen:
            return option
        replaced = next((row for row in options.values() if row.is_chosen), None)
        if replaced is not None:
            # Un-chosen first: the database allows one chosen option per incident.
            replaced.is_chosen = False
            replaced.chosen_at = None
            replaced.chosen_by = None
            save_audited(replaced, actor=actor, reason=f"replaced by option {option.pk}")
        option.is_chosen = True
        option.chosen_at = timezone.now()
        option.chosen_by = actor if isinstance(actor, User) else None
        save_audited(option, actor=actor, reason="chosen")
        body = _("Chose “%(title)s” (%(kind)s, %(risk)s) for the fix.") % _describe(option)
        if replaced is not None:
            body += " " + _("It replaces “%(title)s”.") % {"title": replaced.title}
        record_entry(
            incident=incident,
            kind=EntryKind.FIX_PLAN,
            actor=actor,
            body=body,
            data={"event": "chosen", "option": option.pk, "replaced": replaced.pk if replaced is not None else None},
        )
    return option


def _check_implementation(
    *, option: SolutionOption, window_start: Any, window_end: Any, outcome: str, rolled_back: bool | None
) -> bool:
    """The rules of an implementation record; returns whether it was rolled back."""
    if not option.is_chosen:
        raise ValidationError({"option": [_("Only the chosen option can be implemented; choose it first.")]})
    if option.risk == RiskRating.HIGH and not option.rollback_plan.strip():
        raise ValidationError(
            {"rollback_plan": [_("“%(title)s” is high-risk: write its rollback plan first.") % {"title": option.title}]}
        )
    errors: dict[str, list[str]] = {}
    for field, value in (("window_start", window_start), ("window_end", window_end)):
        if not isinstance(value, dt.datetime) or timezone.is_naive(value):
            errors[field] = [_("Give a date and time with its time zone.")]
    if not errors and window_end <= window_start:
        errors["window_end"] = [_("The window must end after it starts.")]
    if outcome not in ImplementationOutcome.values:
        errors["outcome"] = [_("%(value)r is not a valid choice.") % {"value": outcome}]
    elif outcome == ImplementationOutcome.ROLLED_BACK and rolled_back is False:
        errors["rolled_back"] = [_("The outcome says the change was rolled back.")]
    elif outcome == ImplementationOutcome.SUCCEEDED and rolled_back:
        errors["rolled_back"] = [_("A change that was rolled back did not succeed.")]
    if errors:
        raise ValidationError(errors)
    return bool(rolled_back) or outcome == ImplementationOutcome.ROLLED_BACK


def record_implementation(
    *,
    incident: Incident,
    actor: Actor,
    option: SolutionOption,
    window_start: dt.datetime,
    window_end: dt.datetime,
    outcome: str,
    communicated_to: str = "",
    executed_by: User | None = None,
    supervised_by: User | None = None,
    executed_at: dt.datetime | None = None,
    outcome_notes: str = "",
    rolled_back: bool | None = None,
) -> Implementation:
    """Record one attempt at implementing the chosen option, and how it went.

    1. Check the actor may change the fix plan; validate the people and texts.
    2. Lock the incident and the option; refuse an option that is not chosen,
       or a high-risk one without a rollback plan (ValidationError on
       `rollback_plan`), a window that does not end after it starts, and an
       outcome that contradicts `rolled_back`.
    3. Write the record and its timeline entry together.
    """
    require_manage_response(actor)
    check_active_user(executed_by, "executed_by")
    check_active_user(supervised_by, "supervised_by")
    communicated_to = clean_text(communicated_to, "communicated_to")
    outcome_notes = clean_text(outcome_notes, "outcome_notes")
    now = timezone.now()
    if executed_at is not None and executed_at > now + CLOCK_SKEW:
        raise ValidationError({"executed_at": [_("An implementation cannot be recorded before it happens.")]})
    with transaction.atomic():
        incident = lock_for_response(incident, actor)
        locked = SolutionOption.objects.select_for_update().filter(pk=option.pk, incident=incident).first()
        if locked is None:
            raise ValidationError({"option": [_("This is not an option of %(number)s.") % {"number": incident.number}]})
        option = locked
        was_rolled_back = _check_implementation(
            option=option, window_start=window_start, window_end=window_end, outcome=outcome, rolled_back=rolled_back
        )
        implementation = Implementation(
            incident=incident,
            option=option,
            window_start=window_start,
            window_end=window_end,
            communicated_to=communicated_to,
            executed_by=executed_by,
            supervised_by=supervised_by,
            executed_at=executed_at or now,
            outcome=outcome,
            outcome_notes=outcome_notes,
            rolled_back=was_rolled_back,
            recorded_by=actor if isinstance(actor, User) else None,
            created_at=now,
        )
        save_audited(implementation, actor=actor, reason="implementation recorded")
        record_entry(
            incident=incident,
            kind=EntryKind.FIX_PLAN,
            actor=actor,
            body=_("Implemented “%(title)s”%(by)s: %(outcome)s%(rolled_back)s.")
            % {
                "title": option.title,
                "by": _(" by %(user)s") % {"user": person(executed_by)} if executed_by else "",
                "outcome": implementation.get_outcome_display().lower(),
                "rolled_back": _(", rolled back")
                if was_rolled_back and outcome != ImplementationOutcome.ROLLED_BACK
                else "",
            },
            data={
                "event": "implemented",
                "option": option.pk,
                "implementation": implementation.pk,
                "outcome": outcome,
                "rolled_back": was_rolled_back,
            },
        )
    return implementation
