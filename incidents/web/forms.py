"""The web UI's forms: the queue's filters and the report of a new incident (the seeds' step 1)."""

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from escalation.models import Team
from incidents.choices import Category, Level, Priority, State
from incidents.lifecycle import MAX_TEXT_LENGTH
from incidents.models import Service


class QueueFilterForm(forms.Form):
    """What the queue shows; every field is optional and an invalid one is simply ignored."""

    SCOPES = [
        ("", _("All")),
        ("mine", _("Mine")),
        ("unassigned", _("Unassigned")),
        ("breaching", _("Breaching soon")),
    ]
    SORTS = [
        ("-created_at", _("Newest first")),
        ("created_at", _("Oldest first")),
        ("priority", _("Priority, highest first")),
        ("-updated_at", _("Recently updated")),
        ("state", _("State")),
    ]

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    state = forms.MultipleChoiceField(
        label=_("State"), choices=State.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    priority = forms.MultipleChoiceField(
        label=_("Priority"), choices=Priority.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    service = forms.ModelChoiceField(
        label=_("Service"), queryset=Service.objects.all(), to_field_name="slug", required=False
    )
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.all(), to_field_name="slug", required=False)
    assignee = forms.ModelChoiceField(
        label=_("Assignee"),
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        to_field_name="username",
        required=False,
    )
    scope = forms.ChoiceField(label=_("Show"), choices=SCOPES, required=False)
    sort = forms.ChoiceField(label=_("Sort by"), choices=SORTS, required=False)


class ReportForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200, help_text=_("What is broken, in a few words."))
    description = forms.CharField(
        label=_("Symptoms and observed behaviour"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=MAX_TEXT_LENGTH,
        required=False,
        help_text=_("What users see, error messages, what changed recently."),
    )
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices, initial=Category.OTHER)
    services = forms.ModelMultipleChoiceField(
        label=_("Affected services"),
        queryset=Service.objects.filter(is_active=True).order_by("name"),
        to_field_name="slug",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    started_at = forms.DateTimeField(
        label=_("Impact began"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("In your time zone. Leave empty if it began when you noticed it."),
    )
    impact = forms.ChoiceField(
        label=_("Impact"),
        choices=Level.choices,
        initial=Level.MEDIUM,
        help_text=_("How much of the service or how many users are affected."),
    )
    urgency = forms.ChoiceField(
        label=_("Urgency"),
        choices=Level.choices,
        initial=Level.MEDIUM,
        help_text=_("How fast it must be fixed."),
    )
    affected_users = forms.IntegerField(label=_("Users affected"), min_value=0, max_value=2**31 - 1, required=False)
    diagnostics = forms.CharField(
        label=_("Logs and diagnostics"),
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        required=False,
        max_length=1_000_000,
    )
    attachment = forms.FileField(label=_("Attachment"), required=False, help_text=_("A screenshot or a log file."))

    def clean_started_at(self) -> dt.datetime | None:
        started_at: dt.datetime | None = self.cleaned_data.get("started_at")
        if started_at is not None and started_at > timezone.now():
            raise forms.ValidationError(_("The impact cannot begin in the future."))
        return started_at

    def domain_arguments(self) -> dict[str, Any]:
        """The cleaned values as `report_incident` takes them."""
        data = self.cleaned_data
        return {
            "title": data["title"],
            "description": data["description"],
            "category": data["category"],
            "services": list(data["services"]),
            "started_at": data["started_at"],
            "impact": data["impact"],
            "urgency": data["urgency"],
            "affected_users": data["affected_users"],
            "diagnostics": data["diagnostics"],
        }


# The words each transition's fields are asked for with on the incident page.
_TRANSITION_FIELD_LABELS = {
    "reason": _("Reason"),
    "root_cause": _("Root cause"),
    "resolution": _("Resolution"),
}
TRANSITION_LABELS = {
    "acknowledge": _("Acknowledge"),
    "investigate": _("Start investigating"),
    "hold": _("Put on hold"),
    "resume": _("Resume"),
    "mitigate": _("Mitigate"),
    "resolve": _("Resolve"),
    "reopen": _("Reopen"),
    "close": _("Close"),
    "cancel": _("Cancel incident"),
}


def transition_form(name: str, data: Any = None) -> forms.Form:
    """A form with the fields the transition `name` requires, plus its optional note."""
    from incidents.lifecycle import TRANSITION_FIELDS

    fields: dict[str, forms.Field] = {}
    for field in TRANSITION_FIELDS[name]:
        if field == "note":  # mitigate: the note is what was done, and it is required
            fields["note"] = forms.CharField(
                label=_("What was done"), widget=forms.Textarea(attrs={"rows": 3}), max_length=MAX_TEXT_LENGTH
            )
        else:
            fields[field] = forms.CharField(
                label=_TRANSITION_FIELD_LABELS[field],
                widget=forms.Textarea(attrs={"rows": 3}),
                max_length=MAX_TEXT_LENGTH,
            )
    if "note" not in fields:
        fields["note"] = forms.CharField(
            label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=MAX_TEXT_LENGTH
        )
    form_class = type(f"{name.title()}Form", (forms.Form,), fields)
    return form_class(data, prefix=name)


class NoteForm(forms.Form):
    body = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}), max_length=MAX_TEXT_LENGTH)
    visibility = forms.ChoiceField(
        label=_("Who sees it"),
        choices=[("internal", _("Responders only (internal)")), ("public", _("Everyone, reporters too (public)"))],
        initial="internal",
    )


class PersonField(forms.ModelChoiceField):
    """An active user, chosen by name and sent as their user name."""

    def __init__(self, **kwargs: Any) -> None:
        people = get_user_model().objects.filter(is_active=True).order_by("username")
        super().__init__(queryset=people, to_field_name="username", required=False, **kwargs)

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.username)


class AssignForm(forms.Form):
    assignee = PersonField(label=_("Assignee"))
    commander = PersonField(label=_("Incident commander"))


class EscalateForm(forms.Form):
    note = forms.CharField(
        label=_("Why"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=MAX_TEXT_LENGTH
    )
