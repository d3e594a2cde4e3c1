"""The forms of the incident page's sections: the response team, tasks, fix plan, updates, links, files.

Each form only shapes what the user typed into a domain function's arguments;
the rules (who may, what is valid together) stay in the domain functions, whose
errors come back onto these forms' fields by name. Every form has a prefix, so
the many forms on one page never share an element id.

People are picked from one list the page loads once (`PersonChoiceField`):
a model choice field would query the users again for every form it renders,
and the page shows one per task and per option.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from escalation.models import Team
from incidents.choices import (
    OPEN_TASK_STATUSES,
    FixKind,
    ImplementationOutcome,
    ResponseRoleKind,
    RiskRating,
    TaskStatus,
    UpdateAudience,
)
from incidents.investigation import TITLE_LENGTH
from incidents.lifecycle import MAX_TEXT_LENGTH
from incidents.models import Incident
from incidents.response import EXPERTISE_LENGTH
from incidents.services import MEETING_LINK_LENGTH

DATETIME_WIDGET = {"type": "datetime-local"}
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def active_people() -> list[User]:
    """Everyone who can be picked on the page: the active users, by user name (one query)."""
    return list(get_user_model().objects.filter(is_active=True).order_by("username"))


def person_label(user: User) -> str:
    return str(user.get_full_name() or user.get_username())


def _text(label: Any, *, rows: int = 3, required: bool = False, **kwargs: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=MAX_TEXT_LENGTH,
        widget=forms.Textarea(attrs={"rows": rows}),
        **kwargs,
    )


def _moment(label: Any, *, required: bool = False, **kwargs: Any) -> forms.DateTimeField:
    """A date and time typed in the user's time zone (the form makes it aware in that zone)."""
    return forms.DateTimeField(
        label=label,
        required=required,
        widget=forms.DateTimeInput(attrs=DATETIME_WIDGET, format=DATETIME_FORMAT),
        **kwargs,
    )


def to_the_minute(moment: dt.datetime | None) -> dt.datetime | None:
    """A stored time as a datetime-local field shows it, so an untouched field reads as unchanged."""
    return moment.replace(second=0, microsecond=0) if moment is not None else None


class PersonChoiceField(forms.ChoiceField):
    """An active user picked by user name from the page's list; cleans to the user (or None)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[], **kwargs)
        self.people: dict[str, User] = {}

    def set_people(self, people: Sequence[User]) -> None:
        self.people = {person.get_username(): person for person in people}
        self.choices = [("", "—"), *((name, person_label(person)) for name, person in self.people.items())]

    def clean(self, value: Any) -> User | None:
        name = super().clean(value)
        return self.people.get(name) if name else None


class PeopleForm(forms.Form):
    """A form with person fields, filled from the list of people passed in (`people=`)."""

    def __init__(self, *args: Any, people: Sequence[User] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, PersonChoiceField):
                field.set_people(people)


# --- The response team and the war room ---------------------------------------------


class RoleForm(PeopleForm):
    user = PersonChoiceField(label=_("Person"))
    role = forms.ChoiceField(label=_("Role"), choices=ResponseRoleKind.choices)
    expertise = forms.CharField(
        label=_("Area of expertise"),
        required=False,
        max_length=EXPERTISE_LENGTH,
        help_text=_("Required for a subject-matter expert, e.g. “PostgreSQL”."),
    )


class CommandForm(PeopleForm):
    user = PersonChoiceField(label=_("New incident commander"))


class PageForm(PeopleForm):
    team = forms.ModelChoiceField(
        label=_("A team's on-call person"),
        queryset=Team.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        help_text=_("Either a team or a person."),
    )
    user = PersonChoiceField(label=_("Or a person"), required=False)
    role = forms.ChoiceField(
        label=_("To join as"), choices=ResponseRoleKind.choices, initial=ResponseRoleKind.SUBJECT_MATTER_EXPERT
    )
    expertise = forms.CharField(label=_("Area of expertise"), required=False, max_length=EXPERTISE_LENGTH)
    message = _text(_("Message"), required=True, help_text=_("What you need from them; it goes into the page."))


class MeetingLinksForm(forms.Form):
    war_room_url = forms.CharField(
        label=_("War room (conference bridge)"),
        required=False,
        max_length=MEETING_LINK_LENGTH,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    chat_channel_url = forms.CharField(
        label=_("Chat channel"),
        required=False,
        max_length=MEETING_LINK_LENGTH,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )


# --- Investigation tasks ---------------------------------------------------------------


class TaskForm(PeopleForm):
    title = forms.CharField(label=_("Task"), max_length=TITLE_LENGTH)
    description = _text(_("Details"), rows=2)
    owner = PersonChoiceField(label=_("Owner"), required=False)
    expertise = forms.CharField(label=_("Area of expertise"), required=False, max_length=EXPERTISE_LENGTH)
    due_at = _moment(_("Due"))
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[(status.value, status.label) for status in OPEN_TASK_STATUSES],
        initial=TaskStatus.OPEN,
    )


class TaskChangeForm(PeopleForm):
    """The parts of a task people change while they work it: status, owner, expertise, due time."""

    status = forms.ChoiceField(label=_("Status"), choices=TaskStatus.choices)
    owner = PersonChoiceField(label=_("Owner"), required=False)
    expertise = forms.CharField(label=_("Area of expertise"), required=False, max_length=EXPERTISE_LENGTH)
    due_at = _moment(_("Due"))


# --- The fix plan ------------------------------------------------------------------------


class OptionForm(forms.Form):
    title = forms.CharField(label=_("Option"), max_length=TITLE_LENGTH)
    kind = forms.ChoiceField(label=_("Kind"), choices=FixKind.choices)
    risk = forms.ChoiceField(label=_("Risk"), choices=RiskRating.choices, initial=RiskRating.MEDIUM)
    description = _text(_("What it does"))
    notes = _text(_("Notes"), rows=2)
    rollback_plan = _text(_("Rollback plan"), help_text=_("Required before a high-risk option is implemented."))


class ImplementationForm(PeopleForm):
    window_start = _moment(_("Change window starts"), required=True)
    window_end = _moment(_("Change window ends"), required=True)
    communicated_to = _text(_("Communicated to"), rows=2, help_text=_("Who was told before the change."))
    executed_by = PersonChoiceField(label=_("Executed by"), required=False)
    supervised_by = PersonChoiceField(label=_("Supervised by"), required=False)
    executed_at = _moment(_("Executed at"), help_text=_("Leave empty for now."))
    outcome = forms.ChoiceField(label=_("Outcome"), choices=ImplementationOutcome.choices)
    outcome_notes = _text(_("How it went"), rows=2)
    rolled_back = forms.NullBooleanField(
        label=_("Rolled back"),
        required=False,
        widget=forms.Select(choices=[("unknown", "—"), ("true", _("Yes")), ("false", _("No"))]),
    )
    rollback_plan = _text(
        _("Rollback plan"),
        help_text=_("Kept with the chosen option; a high-risk option needs one before it is implemented."),
    )


# --- Monitoring and status updates -------------------------------------------------------


class RecurrenceForm(forms.Form):
    reason = _text(_("What came back"), required=True, help_text=_("The incident is reopened for investigation."))


class StatusUpdateForm(forms.Form):
    body = _text(_("Update"), rows=4, required=True)
    audience = forms.ChoiceField(
        label=_("For"),
        choices=[
            (UpdateAudience.STAKEHOLDERS, _("Stakeholders (sent to the services' subscribers)")),
            (UpdateAudience.INTERNAL, _("Responders only (internal)")),
        ],
        initial=UpdateAudience.STAKEHOLDERS,
    )


# --- Related incidents and attachments ------------------------------------------------------


class _IncidentNumberForm(forms.Form):
    """One incident named by its number (INC-1042 or 1042), found or refused here."""

    field_name = ""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        text = data.get(self.field_name)
        if text:
            pk = Incident.pk_from_number(text)
            found = Incident.objects.filter(pk=pk).first() if pk else None
            if found is None:
                self.add_error(self.field_name, _("There is no incident %(number)s.") % {"number": text})
            else:
                data[self.field_name] = found
        return data


class DuplicateForm(_IncidentNumberForm):
    field_name = "duplicate_of"
    duplicate_of = forms.CharField(
        label=_("Duplicate of"),
        max_length=30,
        help_text=_("The incident number of the first report, e.g. INC-1042. An open duplicate is cancelled."),
    )


class MajorIncidentForm(_IncidentNumberForm):
    field_name = "major_incident"
    major_incident = forms.CharField(
        label=_("Major incident"), max_length=30, help_text=_("The number of the major incident this one is part of.")
    )


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("File"), help_text=_("A log excerpt, a screenshot, a dump."))


def changed(form: forms.Form, fields: Iterable[str]) -> dict[str, Any]:
    """The cleaned values of `fields` the user changed from the form's initial values."""
    return {field: form.cleaned_data[field] for field in fields if field in form.changed_data}
