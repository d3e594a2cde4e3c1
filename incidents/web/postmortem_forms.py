"""The post-mortem pages' forms: the document, its moves, its timeline rows, its action items, my action items.

Forms only read and shape input; `incidents.postmortems`, `incidents.postmortem_timeline`
and `incidents.action_items` decide what is allowed. Each edit form turns what was
typed into the changes against the record as it is (`changes()`), so a save
sends only what the person changed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from incidents.choices import ActionItemKind, ActionItemStatus, Visibility
from incidents.lifecycle import MAX_TEXT_LENGTH
from incidents.models import ActionItem, PostMortem, PostMortemMoment, Service
from incidents.postmortems import TEXT_FIELDS, TEXT_LIMIT

# The permission the domain asks of an author or an action item's owner (`_check_responder`).
RESPONDER_PERMISSION = ("incidents", "transition_incident")
DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


@dataclass(frozen=True)
class People:
    """The people a form may name (authors, owners, who acted), read once per page.

    A page has a form per timeline row and per action item; each would query the
    users again with a `ModelChoiceField`, so they share this list instead.
    """

    users: tuple[Any, ...]

    @classmethod
    def responders(cls) -> People:
        """Active users who may work incidents: those the domain accepts as authors and owners."""
        app_label, codename = RESPONDER_PERMISSION
        holds = Q(groups__permissions__codename=codename, groups__permissions__content_type__app_label=app_label) | Q(
            user_permissions__codename=codename, user_permissions__content_type__app_label=app_label
        )
        users = get_user_model().objects.filter(holds | Q(is_superuser=True), is_active=True).distinct()
        return cls(tuple(users.order_by("username")))

    def including(self, user: Any) -> People:
        """These people and `user` (someone already named who is no longer on the list)."""
        if user is None or any(person.pk == user.pk for person in self.users):
            return self
        return People((*self.users, user))

    def choices(self) -> list[tuple[str, str]]:
        return [("", "—")] + [(user.username, str(user.get_full_name() or user.username)) for user in self.users]

    def get(self, username: str) -> Any:
        return next((user for user in self.users if user.username == username), None)


class PersonField(forms.ChoiceField):
    """One of the page's `People`, sent as a user name and cleaned to the user (or None)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, **kwargs)
        self.people = People(())

    def use(self, people: People) -> None:
        self.people = people
        self.choices = people.choices()

    def clean(self, value: Any) -> Any:
        username = super().clean(value)
        return self.people.get(username) if username else None


def _minute(value: dt.datetime | None) -> dt.datetime | None:
    """A stored time as the minute-precise field shows it, so an untouched field reads as unchanged."""
    return value.replace(second=0, microsecond=0) if value is not None else None


def _changed(cleaned: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    changes = {}
    for field, value in cleaned.items():
        before = current[field]
        if isinstance(value, dt.datetime) and isinstance(before, dt.datetime):
            if _minute(before) == value:
                continue
        elif getattr(value, "pk", value) == getattr(before, "pk", before):
            continue
        changes[field] = value
    return changes


def _text_field(label: Any, *, rows: int = 5, help_text: Any = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=TEXT_LIMIT,
        widget=forms.Textarea(attrs={"rows": rows}),
        help_text=help_text,
    )


# --- The document ------------------------------------------------------------------


class PostMortemForm(forms.Form):
    """Every section of the post-mortem in one form; `version` is the `updated_at` the writer started from."""

    summary = _text_field(_("Summary"), help_text=_("What happened, to whom, and for how long, in a few lines."))
    downtime_started_at = forms.DateTimeField(
        label=_("Downtime began"), required=False, widget=DATETIME_WIDGET, help_text=_("In your time zone.")
    )
    downtime_ended_at = forms.DateTimeField(
        label=_("Downtime ended"), required=False, widget=DATETIME_WIDGET, help_text=_("In your time zone.")
    )
    affected_users = forms.IntegerField(label=_("Users affected"), required=False, min_value=0, max_value=2**31 - 1)
    affected_services = forms.ModelMultipleChoiceField(
        label=_("Affected services"),
        queryset=Service.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    root_cause = _text_field(_("Root cause"), help_text=_("Why it happened: the cause that, removed, prevents it."))
    contributing_factors = _text_field(_("Contributing factors"))
    what_went_well = _text_field(_("What went well"))
    what_went_badly = _text_field(_("What went badly"))
    lessons = _text_field(_("Lessons learnt"))
    author = PersonField(label=_("Author"))
    version = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, people: People, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["author"].use(people)  # type: ignore[attr-defined]

    @staticmethod
    def initial_for(postmortem: PostMortem) -> dict[str, Any]:
        values: dict[str, Any] = {field: getattr(postmortem, field) for field in TEXT_FIELDS}
        values.update(
            downtime_started_at=postmortem.downtime_started_at,
            downtime_ended_at=postmortem.downtime_ended_at,
            affected_users=postmortem.affected_users,
            affected_services=[service.slug for service in postmortem.affected_services.all()],
            author=postmortem.author.username if postmortem.author else "",
            version=version_of(postmortem),
        )
        return values

    def changes(self, postmortem: PostMortem | None) -> dict[str, Any]:
        """What `write_postmortem` should change: every field for a new post-mortem, else those typed differently."""
        cleaned = {name: value for name, value in self.cleaned_data.items() if name != "version"}
        cleaned["affected_services"] = list(cleaned["affected_services"])
        if postmortem is None:
            if cleaned["author"] is None:
                cleaned.pop("author")  # the writer becomes the author
            return cleaned
        current = {field: getattr(postmortem, field) for field in cleaned if field != "affected_services"}
        current["affected_services"] = None
        changes = _changed({k: v for k, v in cleaned.items() if k != "affected_services"}, current)
        services = cleaned["affected_services"]
        if {service.pk for service in services} != {service.pk for service in postmortem.affected_services.all()}:
            changes["affected_services"] = services
        return changes


def version_of(postmortem: PostMortem | None) -> str:
    """The token a save compares to find out whether someone saved in between."""
    return postmortem.updated_at.isoformat() if postmortem is not None else ""


# --- Its states -------------------------------------------------------------------------

TRANSITION_LABELS = {
    "submit": _("Submit for review"),
    "return_to_draft": _("Back to draft"),
    "publish": _("Publish"),
    "reopen": _("Reopen"),
}
TRANSITION_HELP = {
    "submit": _("Ask for the review. It needs a summary and a root cause."),
    "return_to_draft": _("Take it back to keep writing, or send it back to the author with a note."),
    "publish": _("Make it final and searchable by everyone. A P1 or P2 incident can close once it is published."),
    "reopen": _("Make it a draft again to correct it. Say why; the reason goes on the incident's timeline."),
}


def transition_form(name: str, data: Any = None, *, seen: str = "") -> forms.Form:
    """The fields of a post-mortem move: a reopen's required reason, else an optional note.

    `seen` is the status the page showed, so a move decided on a stale page is a conflict.
    """
    if name == "reopen":
        field = forms.CharField(label=_("Reason"), max_length=MAX_TEXT_LENGTH, widget=forms.Textarea(attrs={"rows": 2}))
        fields = {"reason": field}
    else:
        fields = {
            "note": forms.CharField(
                label=_("Note"), required=False, max_length=MAX_TEXT_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
            )
        }
    fields["seen"] = forms.CharField(required=False, widget=forms.HiddenInput)
    form_class = type(f"PostMortem{name.title().replace('_', '')}Form", (forms.Form,), fields)
    return form_class(data, prefix=f"pm-{name}", initial={"seen": seen})


# --- Its timeline --------------------------------------------------------------------------


class MomentForm(forms.Form):
    """A timeline row's time, text, visibility and key mark."""

    occurred_at = forms.DateTimeField(label=_("When"), widget=DATETIME_WIDGET, help_text=_("In your time zone."))
    body = forms.CharField(
        label=_("What happened"), max_length=MAX_TEXT_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )
    visibility = forms.ChoiceField(
        label=_("Who sees it"),
        choices=[(Visibility.INTERNAL, _("Responders only (internal)")), (Visibility.PUBLIC, _("Everyone (public)"))],
        initial=Visibility.INTERNAL,
    )
    is_key_moment = forms.BooleanField(label=_("Key moment"), required=False)

    @classmethod
    def for_moment(cls, moment: PostMortemMoment, data: Any = None) -> MomentForm:
        initial = {field: getattr(moment, field) for field in ("occurred_at", "body", "visibility", "is_key_moment")}
        return cls(data, prefix=f"moment-{moment.pk}", initial=initial)

    def changes(self, moment: PostMortemMoment) -> dict[str, Any]:
        return _changed(self.cleaned_data, {field: getattr(moment, field) for field in self.cleaned_data})


class AddMomentForm(MomentForm):
    by = PersonField(label=_("Who acted"))

    def __init__(self, *args: Any, people: People, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "add-moment")
        super().__init__(*args, **kwargs)
        self.fields["by"].use(people)  # type: ignore[attr-defined]


class KeyMomentForm(forms.Form):
    """Mark (1) or unmark (0) a key moment: the value wanted, so sending it twice changes nothing more."""

    key = forms.TypedChoiceField(choices=[("1", "1"), ("0", "0")], coerce=lambda value: value == "1")


class RegenerateForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("Yes, rebuild the generated rows from the incident's timeline"),
        error_messages={"required": _("Tick the box to confirm.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "regenerate")
        super().__init__(*args, **kwargs)


# --- Action items -------------------------------------------------------------------------


class ActionItemForm(forms.Form):
    """A new follow-up of the post-mortem."""

    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=MAX_TEXT_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=ActionItemKind.choices, initial=ActionItemKind.PREVENT)
    owner = PersonField(label=_("Owner"))
    due_date = forms.DateField(label=_("Due date"), required=False, widget=DATE_WIDGET)

    def __init__(self, *args: Any, people: People, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "add-item")
        super().__init__(*args, **kwargs)
        self.fields["owner"].use(people)  # type: ignore[attr-defined]


class ActionItemStatusForm(forms.Form):
    """An item's status and its outcome (the reason, for won't do)."""

    status = forms.ChoiceField(label=_("Status"), choices=ActionItemStatus.choices)
    resolution_note = forms.CharField(
        label=_("Outcome or reason"),
        required=False,
        max_length=MAX_TEXT_LENGTH,
        help_text=_("Needed for won't do: say why."),
    )

    @classmethod
    def for_item(cls, item: ActionItem, data: Any = None, **kwargs: Any) -> Any:
        initial = {field: getattr(item, field) for field in cls.base_fields}
        if "owner" in initial:
            initial["owner"] = item.owner.username if item.owner else ""
        return cls(data, prefix=f"item-{item.pk}", initial=initial, **kwargs)

    def changes(self, item: ActionItem) -> dict[str, Any]:
        return _changed(self.cleaned_data, {field: getattr(item, field) for field in self.cleaned_data})


class ActionItemUpdateForm(ActionItemStatusForm):
    """An item's status, owner and due date, from the post-mortem."""

    owner = PersonField(label=_("Owner"))
    due_date = forms.DateField(label=_("Due date"), required=False, widget=DATE_WIDGET)

    field_order = ["status", "owner", "due_date", "resolution_note"]

    def __init__(self, *args: Any, people: People, owner: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].use(people.including(owner))  # type: ignore[attr-defined]


class PostMortemSearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)


class ActionItemFilterForm(forms.Form):
    """What "my action items" shows; an invalid value is ignored, as in the queue."""

    PENDING = "pending"
    ANY = "any"
    STATUSES = [
        (PENDING, _("Not done yet")),
        *ActionItemStatus.choices,
        (ANY, _("Any status")),
    ]
    MINE = "mine"
    ALL = "all"
    SORTS = [("due", _("Due date, soonest first")), ("-due", _("Due date, latest first"))]

    status = forms.ChoiceField(label=_("Status"), choices=STATUSES, required=False)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    scope = forms.ChoiceField(label=_("Whose"), choices=[(MINE, _("Mine")), (ALL, _("Everyone's"))], required=False)
    sort = forms.ChoiceField(label=_("Sort by"), choices=SORTS, required=False)

    def __init__(self, *args: Any, may_see_all: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not may_see_all:
            del self.fields["scope"]

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "status": data.get("status") or self.PENDING,
            "overdue": bool(data.get("overdue")),
            "scope": data.get("scope") or self.MINE,
            "sort": data.get("sort") or "due",
        }
