"""The profile page's forms: settings, a contact method, a notification rule.

They check what a form can (required fields, lengths, choices); the rules
themselves (an address that fits its channel, a delay within a day, one's own
contact method) are `escalation.contacts`' and `escalation.profile`'s, whose
errors the views put back on these forms' fields.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.conf import settings
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _

from escalation.contacts import ADDRESS_LENGTH, LABEL_LENGTH, MAX_RULE_DELAY
from escalation.models import Channel, ContactMethod
from escalation.profile import time_zone_names


def minutes(delay: dt.timedelta) -> int:
    return int(delay.total_seconds() // 60)


def _zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in time_zone_names()]


def _language_choices() -> list[tuple[str, str]]:
    return [
        ("", str(_("As my browser asks"))),
        *((code, str(get_language_info(code)["name_local"])) for code, _name in settings.LANGUAGES),
    ]


class LanguageSelect(forms.Select):
    """Each language named in itself, and marked so (`lang`): read out in its own language, and known as not the page's."""

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        if value:
            option["attrs"]["lang"] = value
        return option


class SettingsForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(
        label=_("Email"), max_length=254, required=False, help_text=_("Pages go here when you have no rules.")
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"), choices=_zone_choices, help_text=_("Every date and time is shown in this zone.")
    )
    language = forms.ChoiceField(
        label=_("Language"),
        choices=_language_choices,
        widget=LanguageSelect,
        required=False,
        help_text=_("Used on every device you log in on; the switcher in the header changes it too."),
    )


class ContactMethodForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    address = forms.CharField(
        label=_("Address"),
        max_length=ADDRESS_LENGTH,
        help_text=_("An email address, or the webhook's https:// URL."),
    )
    label = forms.CharField(label=_("Label"), max_length=LABEL_LENGTH, required=False, help_text=_("E.g. “Phone”."))
    is_active = forms.BooleanField(label=_("Active (pages are sent to it)"), required=False, initial=True)

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not editing:
            # A new method starts active; switching it off is a change of an existing one.
            del self.fields["is_active"]


class NotificationRuleForm(forms.Form):
    """A rule of the person's own: `methods` are theirs, read once for every rule form on the page."""

    contact_method = forms.TypedChoiceField(label=_("Contact method"), coerce=int)
    delay = forms.IntegerField(
        label=_("After (minutes)"),
        min_value=0,
        max_value=minutes(MAX_RULE_DELAY),
        initial=0,
        help_text=_("How long after the page this method is used: 0 for at once."),
    )
    high_priority_only = forms.BooleanField(label=_("Only for P1 and P2"), required=False)

    def __init__(self, methods: Sequence[ContactMethod], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.methods = {method.pk: method for method in methods}
        cast(forms.TypedChoiceField, self.fields["contact_method"]).choices = [
            (method.pk, str(method)) for method in methods
        ]

    def clean_contact_method(self) -> ContactMethod:
        return self.methods[self.cleaned_data["contact_method"]]

    def clean_delay(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.cleaned_data["delay"])
