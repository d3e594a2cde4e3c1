"""The admin's forms: reporting and editing an incident, and its tools."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from incidents import lifecycle
from incidents.admin.common import LINK_FIELDS, DomainModelForm
from incidents.choices import EntryKind, Priority, Visibility
from incidents.priority import priority_for

TRANSITION_FIELD_LABELS: dict[str, Any] = {
    "reason": _("Reason"),
    "root_cause": _("Root cause"),
    "resolution": _("Resolution"),
    "note": _("Note for the timeline"),
}


class IncidentFormMixin(DomainModelForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            # Changes are read from the database value, not a hidden copy the browser sends back.
            field.show_hidden_initial = False


class IncidentAddForm(IncidentFormMixin):
    """Reporting an incident: `services.report_incident` creates it."""

    form_only_fields = ("priority", "priority_override_reason")

    priority = forms.ChoiceField(
        label=_("Priority"),
        choices=[("", _("From impact and urgency")), *Priority.choices],
        required=False,
        help_text=_("Leave empty to take the priority from the impact × urgency matrix."),
    )
    priority_override_reason = forms.CharField(
        label=_("Reason for the priority"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=lifecycle.MAX_TEXT_LENGTH,
        help_text=_("Required when the priority differs from the matrix."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("started_at", "detected_at"):
            if name in self.fields:
                self.fields[name].required = False
                self.fields[name].help_text = _("Leave empty to use the current time.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        priority = cleaned.get("priority")
        impact, urgency = cleaned.get("impact"), cleaned.get("urgency")
        if (
            priority
            and impact
            and urgency
            and priority != priority_for(impact=impact, urgency=urgency)
            and not (cleaned.get("priority_override_reason") or "").strip()
        ):
            self.add_error(
                "priority_override_reason", _("Give a reason when the priority differs from impact × urgency.")
            )
        return cleaned


class IncidentChangeForm(IncidentFormMixin):
    """Editing an incident: each kind of change goes to its own domain function."""

    form_only_fields = ("priority_override_reason",)

    priority_override_reason = forms.CharField(
        label=_("Reason for the priority change"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=lifecycle.MAX_TEXT_LENGTH,
        help_text=_(
            "Required when you change the priority. A priority set by hand no longer follows impact × urgency."
        ),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        changed = self.changed_data
        if (
            "priority" in changed
            and "priority_override_reason" in self.fields
            and not (cleaned.get("priority_override_reason") or "").strip()
        ):
            self.add_error("priority_override_reason", _("Give a reason for changing the priority."))
        for field in LINK_FIELDS:
            if field in changed and self.initial.get(field) and cleaned.get(field) is None:
                self.add_error(field, _("A link to another incident cannot be removed here."))
        return cleaned


class TransitionForm(forms.Form):
    """The fields one transition needs (`lifecycle.TRANSITION_FIELDS`) and a note."""

    def __init__(self, *args: Any, transition: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        required = lifecycle.TRANSITION_FIELDS[transition]
        for name in (*required, *(() if "note" in required else ("note",))):
            self.fields[name] = forms.CharField(
                label=TRANSITION_FIELD_LABELS[name],
                required=name in required,
                max_length=lifecycle.MAX_TEXT_LENGTH,
                widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
            )
        if transition == "mitigate":
            self.fields["note"].label = _("What was done to restore service")


class NoteForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[
            (EntryKind.NOTE.value, EntryKind.NOTE.label),
            (EntryKind.STATUS_UPDATE.value, EntryKind.STATUS_UPDATE.label),
        ],
        initial=EntryKind.NOTE.value,
    )
    visibility = forms.ChoiceField(
        label=_("Visibility"),
        choices=Visibility.choices,
        help_text=_("Internal notes are seen by responders only."),
    )
    body = forms.CharField(
        label=_("Text"),
        max_length=lifecycle.MAX_TEXT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
    )
