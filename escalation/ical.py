"""iCalendar feeds of on-call shifts, for calendar apps to subscribe to.

Calendar apps cannot log in, so the unguessable feed token in the address is
the credential: a schedule's token shows its whole rota, a person's token
their own shifts across schedules.
"""

import datetime as dt

from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_GET
from icalendar import Calendar, Event

from escalation.models import OnCallSchedule, ResponderProfile
from escalation.oncall import Shift, shifts, user_shifts

FEED_PAST = dt.timedelta(days=7)
FEED_AHEAD = dt.timedelta(weeks=8)
CONTENT_TYPE = "text/calendar; charset=utf-8"


def feed_window(*, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """From 7 days ago to 8 weeks ahead, widened to whole UTC days.

    The first shift is cut at the window's start; starting it at midnight keeps
    that event (and its UID) the same on every refresh of the day.
    """
    midnight = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - FEED_PAST, midnight + FEED_AHEAD + dt.timedelta(days=1)


def _display_name(user: User) -> str:
    return user.get_full_name() or user.username


def _event(*, schedule: OnCallSchedule, shift: Shift, stamp: dt.datetime, domain: str) -> Event:
    event = Event()
    event.add("uid", f"oncall-{schedule.pk}-{shift.starts_at:%Y%m%dT%H%M%SZ}@{domain}")
    event.add("dtstamp", stamp)
    event.add("dtstart", shift.starts_at.astimezone(dt.UTC))
    event.add("dtend", shift.ends_at.astimezone(dt.UTC))
    event.add("summary", f"On call: {_display_name(shift.user)} ({schedule.team.name})")
    event.add("description", f"{schedule.team.name} · {schedule.name}")
    # Being on call does not make anyone busy for meetings.
    event.add("transp", "TRANSPARENT")
    return event


def _calendar(*, name: str, time_zone: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", "-//ITSM//On-call schedules//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    # Events are in UTC; this only tells apps which zone the feed's owner reads them in.
    calendar.add("x-wr-timezone", time_zone)
    return calendar


def schedule_calendar(*, schedule: OnCallSchedule, now: dt.datetime, domain: str) -> Calendar:
    """Every shift of `schedule` around `now` (see `feed_window`)."""
    start, end = feed_window(now=now)
    calendar = _calendar(name=f"On call: {schedule.team.name} · {schedule.name}", time_zone=schedule.time_zone)
    stamp = now.astimezone(dt.UTC)
    for shift in shifts(schedule=schedule, start=start, end=end):
        calendar.add_component(_event(schedule=schedule, shift=shift, stamp=stamp, domain=domain))
    return calendar


def user_calendar(*, profile: ResponderProfile, now: dt.datetime, domain: str) -> Calendar:
    """The shifts of the profile's person across every schedule around `now` (see `feed_window`)."""
    start, end = feed_window(now=now)
    calendar = _calendar(name=f"On call: {_display_name(profile.user)}", time_zone=profile.time_zone)
    stamp = now.astimezone(dt.UTC)
    for schedule, shift in user_shifts(user=profile.user, start=start, end=end):
        calendar.add_component(_event(schedule=schedule, shift=shift, stamp=stamp, domain=domain))
    return calendar


def _ics(calendar: Calendar) -> HttpResponse:
    response = HttpResponse(calendar.to_ical(), content_type=CONTENT_TYPE)
    # The address is a credential: keep it and its content out of shared caches and search engines.
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@require_GET
def schedule_feed(request: HttpRequest, feed_token: str) -> HttpResponse:
    schedule = get_object_or_404(OnCallSchedule.objects.select_related("team"), feed_token=feed_token)
    return _ics(schedule_calendar(schedule=schedule, now=timezone.now(), domain=request.get_host()))


@require_GET
def user_feed(request: HttpRequest, feed_token: str) -> HttpResponse:
    profile = get_object_or_404(ResponderProfile.objects.select_related("user"), feed_token=feed_token)
    if not profile.user.is_active:
        # A deactivated account's feed stops with it.
        raise Http404
    return _ics(user_calendar(profile=profile, now=timezone.now(), domain=request.get_host()))
