"""On call: who is on call now per team, the coming weeks' shifts, my shifts, overrides; and the pages I got.

The rota comes from `escalation.oncall` (every schedule read in a fixed number
of queries), overrides are written by `escalation.overrides`, and a page is
acknowledged by `incidents.lifecycle.acknowledge_incident`, as from the link
in the page's message (`escalation.ack_links`).
"""

import datetime as dt
from collections.abc import Iterable
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from escalation import overrides
from escalation.ack_links import settled_outcome
from escalation.models import Channel, ContactMethod, Notification, NotificationKind, OnCallSchedule, ScheduleOverride
from escalation.oncall import Shift, TeamOnCall, oncall_now, shifts_by_schedule, user_shifts
from incidents.choices import OPEN_STATES
from incidents.exceptions import IncidentConflict, TransitionNotAllowed
from incidents.lifecycle import acknowledge_incident
from incidents.web.forms import PersonField
from incidents.web.views import form_errors_from

VIEW_PERMISSION = "escalation.view_oncallschedule"
WEEKS = (1, 2, 4, 8)
DEFAULT_WEEKS = 2
PAGES_PAGE_SIZE = 25


def _week_choices() -> list[tuple[int, str]]:
    """Worded when the form is shown, in the page's language (a lazy string filled in at import would not be)."""
    return [(weeks, ngettext("%(weeks)d week", "%(weeks)d weeks", weeks) % {"weeks": weeks}) for weeks in WEEKS]


class WindowForm(forms.Form):
    weeks = forms.TypedChoiceField(
        label=gettext_lazy("Show the next"),
        coerce=int,
        choices=_week_choices,
        initial=DEFAULT_WEEKS,
        required=False,
    )


class ScheduleField(forms.ModelChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        schedules = OnCallSchedule.objects.select_related("team").order_by("team__name", "name")
        super().__init__(queryset=schedules, **kwargs)

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.team.name} · {obj.name}"


_LOCAL = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class OverrideForm(forms.Form):
    schedule = ScheduleField(label=gettext_lazy("Schedule"))
    user = PersonField(label=gettext_lazy("Who is on call"))
    starts_at = forms.DateTimeField(
        label=gettext_lazy("From"), widget=_LOCAL, help_text=gettext_lazy("Your time zone.")
    )
    ends_at = forms.DateTimeField(label=gettext_lazy("Until"), widget=_LOCAL, help_text=gettext_lazy("Your time zone."))
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=overrides.REASON_LENGTH, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].required = True


def _window_weeks(request: HttpRequest) -> tuple[WindowForm, int]:
    form = WindowForm(request.GET or None)
    weeks = form.cleaned_data.get("weeks") if form.is_valid() else None
    return form, weeks or DEFAULT_WEEKS


def _emails_of(users: Iterable[User]) -> dict[int, list[str]]:
    """Each person's email addresses to reach them by hand: the account's, then their active email methods."""
    people = {user.pk: user for user in users}
    found: dict[int, list[str]] = {pk: [user.email] if user.email else [] for pk, user in people.items()}
    methods = ContactMethod.objects.filter(user_id__in=people, channel=Channel.EMAIL, is_active=True).order_by("id")
    for method in methods:
        if method.address not in found[method.user_id]:
            found[method.user_id].append(method.address)
    return found


def _feed_url(request: HttpRequest, schedule: OnCallSchedule) -> str:
    return request.build_absolute_uri(reverse("oncall-schedule-feed", kwargs={"feed_token": schedule.feed_token}))


def _teams(request: HttpRequest, current: list[TeamOnCall], upcoming: dict[int, list[Shift]]) -> list[dict[str, Any]]:
    """Team by team, each schedule with who is on call now, how to reach them, and its coming shifts."""
    emails = _emails_of(entry.user for entry in current if entry.user is not None)
    teams: dict[int, dict[str, Any]] = {}
    for entry in current:
        team = teams.setdefault(entry.team.pk, {"team": entry.team, "schedules": []})
        team["schedules"].append(
            {
                "schedule": entry.schedule,
                "user": entry.user,
                "until": entry.ends_at,
                "emails": emails.get(entry.user.pk, []) if entry.user else [],
                "shifts": upcoming[entry.schedule.pk],
                "feed_url": _feed_url(request, entry.schedule),
            }
        )
    return list(teams.values())


def _render_oncall(
    request: HttpRequest, *, status: int = 200, override_form: OverrideForm | None = None
) -> HttpResponse:
    user = cast(User, request.user)
    window_form, weeks = _window_weeks(request)
    now = timezone.now()
    end = now + dt.timedelta(weeks=weeks)
    current = oncall_now(at=now)
    upcoming = shifts_by_schedule(schedules=[entry.schedule for entry in current], start=now, end=end)
    upcoming_overrides = (
        ScheduleOverride.objects.filter(ends_at__gt=now, starts_at__lt=end)
        .select_related("schedule__team", "user")
        .order_by("starts_at", "id")
    )
    may_override = user.has_perm(overrides.ADD_PERMISSION)
    context = {
        "window_form": window_form,
        "weeks": weeks,
        "now": now,
        "end": end,
        "teams": _teams(request, current, upcoming),
        "my_shifts": user_shifts(user=user, start=now, end=end),
        "overrides": list(upcoming_overrides),
        "may_override": may_override,
        "override_form": (override_form or OverrideForm()) if may_override else None,
        "open_pages": _my_pages(user).filter(incident__acknowledged_at__isnull=True).count(),
    }
    return render(request, "web/oncall.html", context, status=status)


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def oncall(request: HttpRequest) -> HttpResponse:
    return _render_oncall(request)


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_POST
def add_override(request: HttpRequest) -> HttpResponse:
    """Put someone on call for a schedule between two moments; 400 with what was typed, 403 without the right."""
    if not request.user.has_perm(overrides.ADD_PERMISSION):
        raise PermissionDenied(_("You may not change who is on call."))
    form = OverrideForm(request.POST)
    if not form.is_valid():
        return _render_oncall(request, status=400, override_form=form)
    data = form.cleaned_data
    try:
        override = overrides.create_override(
            schedule=data["schedule"],
            user=data["user"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            reason=data["reason"],
            actor=request.user,
        )
    except ValidationError as error:
        form_errors_from(form, error)
        return _render_oncall(request, status=400, override_form=form)
    messages.success(
        request,
        _("%(person)s is on call for %(schedule)s from %(start)s until %(end)s.")
        % {
            "person": override.user.get_full_name() or override.user.username,
            "schedule": override.schedule.name,
            "start": date_format(timezone.localtime(override.starts_at), "SHORT_DATETIME_FORMAT"),
            "end": date_format(timezone.localtime(override.ends_at), "SHORT_DATETIME_FORMAT"),
        },
    )
    return redirect(reverse("web:oncall") + "#overrides")


# --- The pages sent to me ----------------------------------------------------


def _my_pages(user: User) -> Any:
    """The pages sent to `user` about incidents still open, newest first, with their incident."""
    return (
        Notification.objects.filter(user=user, kind=NotificationKind.PAGE, incident__state__in=OPEN_STATES)
        .select_related("incident")
        .order_by("-created_at", "-id")
    )


def _render_pages(request: HttpRequest, *, status: int = 200) -> HttpResponse:
    page = Paginator(_my_pages(cast(User, request.user)), PAGES_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"notification": n, "settled": settled_outcome(n.incident)} for n in page.object_list]
    return render(request, "web/pages.html", {"page": page, "rows": rows}, status=status)


@login_required
def my_pages(request: HttpRequest) -> HttpResponse:
    return _render_pages(request)


@login_required
@require_POST
def acknowledge_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Acknowledge the incident a page of mine is about, as the link in the page's message would.

    Already acknowledged: said so, nothing written (pressing twice is harmless).
    Moved on without an acknowledgement, or changed by someone a moment earlier: 409 and a message.
    """
    notification = get_object_or_404(
        Notification.objects.select_related("incident"), pk=pk, user=request.user, kind=NotificationKind.PAGE
    )
    incident = notification.incident
    settled = settled_outcome(incident)
    if settled == "already":
        messages.info(request, _("%(number)s was already acknowledged.") % {"number": incident.number})
        return redirect("web:oncall-pages")
    if settled is not None:
        messages.error(
            request,
            _("%(number)s is %(state)s now: there is nothing to acknowledge.")
            % {"number": incident.number, "state": incident.get_state_display()},
        )
        return _render_pages(request, status=409)
    try:
        acknowledge_incident(incident=incident, actor=request.user)
    except PermissionDenied as error:
        messages.error(request, str(error) or _("You may not do that."))
        return _render_pages(request, status=403)
    except (TransitionNotAllowed, IncidentConflict) as error:
        messages.error(request, error.message)
        return _render_pages(request, status=409)
    messages.success(request, _("%(number)s acknowledged: escalation stops.") % {"number": incident.number})
    return redirect("web:oncall-pages")
