"""The web UI's forms: the queue's filters and the report of a new incident (the seeds' step 1)."""

import datetime as dt
from typing import Any

from django import forms
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
    state = forms.MultipleChoiceField(label=_("State"), choices=State.choices, required=False)
    priority = forms.MultipleChoiceField(label=_("Priority"), choices=Priority.choices, required=False)
    service = forms.ModelChoiceField(
        label=_("Service"), queryset=Service.objects.all(), to_field_name="slug", required=False
    )
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.all(), to_field_name="slug", required=False)
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
