"""The user's own profile: name, email, time zone and language, calendar feed, contact methods, notification rules.

Everything here belongs to the person logged in: other people's contact
methods and rules are not found (404), never refused (403), so their ids tell
nothing. Changes go through `escalation.profile` and `escalation.contacts`,
the functions the self-service API uses too.
"""

from typing import cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from escalation import contacts
from escalation import profile as settings_of
from escalation.models import Channel, ContactMethod, NotificationRule
from incidents.api_tokens import api_token_of, issue_api_token, revoke_api_token
from incidents.web.middleware import set_language_cookie
from incidents.web.profile_forms import ContactMethodForm, NotificationRuleForm, SettingsForm, minutes
from incidents.web.views import form_errors_from

SIGNED_CHANNELS = (Channel.WEBHOOK, Channel.SLACK)


def _me(request: HttpRequest) -> User:
    # Every view here is login_required.
    return cast(User, request.user)


def _feed_url(request: HttpRequest, feed_token: str) -> str:
    return request.build_absolute_uri(reverse("oncall-user-feed", kwargs={"feed_token": feed_token}))


def _render_profile(
    request: HttpRequest, *, status: int = 200, bound: dict[str, forms.Form] | None = None
) -> HttpResponse:
    """The profile page; `bound` holds the forms that came back with errors, shown open with what was typed."""
    bound = bound or {}
    user = _me(request)
    profile = settings_of.profile_of(user)
    methods = list(ContactMethod.objects.filter(user=user).order_by("channel", "id"))
    rules = list(NotificationRule.objects.filter(user=user).select_related("contact_method").order_by("delay", "id"))
    settings_form = bound.get("settings") or SettingsForm(
        initial={
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": user.email,
            "time_zone": profile.time_zone if profile else settings.TIME_ZONE,
            "language": profile.language if profile else "",
        }
    )
    method_rows = [
        {
            "method": method,
            "form": bound.get(f"method-{method.pk}")
            or ContactMethodForm(
                prefix=f"method-{method.pk}",
                editing=True,
                initial={
                    "channel": method.channel,
                    "address": method.address,
                    "label": method.label,
                    "is_active": method.is_active,
                },
            ),
            "signed": method.channel in SIGNED_CHANNELS,
        }
        for method in methods
    ]
    rule_rows = [
        {
            "rule": rule,
            "form": bound.get(f"rule-{rule.pk}")
            or NotificationRuleForm(
                methods,
                prefix=f"rule-{rule.pk}",
                initial={
                    "contact_method": rule.contact_method_id,
                    "delay": minutes(rule.delay),
                    "high_priority_only": rule.high_priority_only,
                },
            ),
        }
        for rule in rules
    ]
    context = {
        "settings_form": settings_form,
        "profile": profile,
        "feed_url": _feed_url(request, profile.feed_token) if profile else None,
        "method_rows": method_rows,
        "new_method_form": bound.get("method-new") or ContactMethodForm(prefix="method-new"),
        "rule_rows": rule_rows,
        "new_rule_form": bound.get("rule-new") or NotificationRuleForm(methods, prefix="rule-new"),
        "open_form": next(iter(bound), None),
        "api_token": api_token_of(user),
    }
    return render(request, "web/profile.html", context, status=status)


def _invalid(request: HttpRequest, key: str, form: forms.Form, error: ValidationError | None = None) -> HttpResponse:
    if error is not None:
        form_errors_from(form, error)
    return _render_profile(request, status=400, bound={key: form})


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _render_profile(request)
    form = SettingsForm(request.POST)
    if not form.is_valid():
        return _invalid(request, "settings", form)
    try:
        saved = settings_of.update_settings(user=_me(request), actor=_me(request), **form.cleaned_data)
    except ValidationError as error:
        return _invalid(request, "settings", form, error)
    if saved.language:
        # Speak the new language from this very answer on, and keep the switcher's cookie in step.
        translation.activate(saved.language)
    messages.success(request, _("Your settings are saved."))
    response = redirect("web:profile")
    if saved.language:
        set_language_cookie(response, saved.language)
    return response


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The header's language switcher: Django's own view, and for someone logged in, their profile's choice too.

    Without this the profile's language would overrule the switcher on the next page.
    """
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in settings_of.language_codes():
        settings_of.set_language(user=_me(request), actor=_me(request), language=language)
    return django_set_language(request)


@login_required
@require_POST
def renew_calendar(request: HttpRequest) -> HttpResponse:
    had_one = settings_of.profile_of(_me(request)) is not None
    settings_of.renew_feed_token(user=_me(request), actor=_me(request))
    if had_one:
        messages.success(request, _("Your calendar has a new address; the old one no longer works."))
    else:
        messages.success(request, _("Your calendar feed is ready: subscribe to the address below."))
    return redirect(reverse("web:profile") + "#calendar")


def _show_secret(request: HttpRequest, method: ContactMethod, *, created: bool) -> HttpResponse:
    """The signing secret, this once: it is not shown again (only rotated)."""
    response = render(request, "web/profile_secret.html", {"method": method, "created": created})
    response["Cache-Control"] = "no-store"
    return response


def _my_method(request: HttpRequest, pk: int) -> ContactMethod:
    return get_object_or_404(ContactMethod, pk=pk, user=_me(request))


def _my_rule(request: HttpRequest, pk: int) -> NotificationRule:
    return get_object_or_404(
        NotificationRule.objects.select_related("contact_method", "user"), pk=pk, user=_me(request)
    )


@login_required
@require_POST
def add_contact_method(request: HttpRequest) -> HttpResponse:
    form = ContactMethodForm(request.POST, prefix="method-new")
    if not form.is_valid():
        return _invalid(request, "method-new", form)
    try:
        method = contacts.add_contact_method(user=_me(request), actor=_me(request), **form.cleaned_data)
    except ValidationError as error:
        return _invalid(request, "method-new", form, error)
    if method.channel in SIGNED_CHANNELS:
        return _show_secret(request, method, created=True)
    messages.success(request, _("Contact method added."))
    return redirect(reverse("web:profile") + "#contact-methods")


@login_required
@require_POST
def change_contact_method(request: HttpRequest, pk: int) -> HttpResponse:
    method = _my_method(request, pk)
    key = f"method-{method.pk}"
    form = ContactMethodForm(request.POST, prefix=key, editing=True)
    if not form.is_valid():
        return _invalid(request, key, form)
    try:
        contacts.change_contact_method(method=method, actor=_me(request), **form.cleaned_data)
    except ValidationError as error:
        return _invalid(request, key, form, error)
    messages.success(request, _("Contact method saved."))
    return redirect(reverse("web:profile") + "#contact-methods")


@never_cache
@login_required
@require_POST
def rotate_contact_secret(request: HttpRequest, pk: int) -> HttpResponse:
    method = _my_method(request, pk)
    if method.channel not in SIGNED_CHANNELS:
        messages.error(request, _("Only webhooks are signed."))
        return _render_profile(request, status=400)
    return _show_secret(request, contacts.rotate_contact_secret(method=method, actor=_me(request)), created=False)


@login_required
@require_POST
def remove_contact_method(request: HttpRequest, pk: int) -> HttpResponse:
    contacts.remove_contact_method(method=_my_method(request, pk), actor=_me(request))
    messages.success(request, _("Contact method removed, with the rules that used it."))
    return redirect(reverse("web:profile") + "#contact-methods")


def _methods(request: HttpRequest) -> list[ContactMethod]:
    return list(ContactMethod.objects.filter(user=_me(request)).order_by("channel", "id"))


@login_required
@require_POST
def add_notification_rule(request: HttpRequest) -> HttpResponse:
    form = NotificationRuleForm(_methods(request), request.POST, prefix="rule-new")
    if not form.is_valid():
        return _invalid(request, "rule-new", form)
    try:
        contacts.add_notification_rule(user=_me(request), actor=_me(request), **form.cleaned_data)
    except ValidationError as error:
        return _invalid(request, "rule-new", form, error)
    messages.success(request, _("Notification rule added."))
    return redirect(reverse("web:profile") + "#notification-rules")


@login_required
@require_POST
def change_notification_rule(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _my_rule(request, pk)
    key = f"rule-{rule.pk}"
    form = NotificationRuleForm(_methods(request), request.POST, prefix=key)
    if not form.is_valid():
        return _invalid(request, key, form)
    try:
        contacts.change_notification_rule(rule=rule, actor=_me(request), **form.cleaned_data)
    except ValidationError as error:
        return _invalid(request, key, form, error)
    messages.success(request, _("Notification rule saved."))
    return redirect(reverse("web:profile") + "#notification-rules")


@login_required
@require_POST
def remove_notification_rule(request: HttpRequest, pk: int) -> HttpResponse:
    contacts.remove_notification_rule(rule=_my_rule(request, pk), actor=_me(request))
    messages.success(request, _("Notification rule removed."))
    return redirect(reverse("web:profile") + "#notification-rules")


@never_cache
@login_required
@require_POST
def new_api_token(request: HttpRequest) -> HttpResponse:
    """A new API token, shown this once; the previous one stops working now."""
    token = issue_api_token(user=_me(request), actor=_me(request))
    response = render(request, "web/profile_token.html", {"token": token})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def remove_api_token(request: HttpRequest) -> HttpResponse:
    if revoke_api_token(user=_me(request), actor=_me(request)):
        messages.success(request, _("Your API token is revoked: requests that send it are refused from now on."))
    else:
        messages.info(request, _("You had no API token."))
    return redirect(reverse("web:profile") + "#api-token")
