"""Who is on call: the timeline of a schedule's rotation layers with its overrides on top.

Every function takes and returns aware datetimes and answers in UTC. A layer's
hand-offs are wall-clock times in the schedule's zone: a daily 09:00 hand-off
stays at 09:00 local across daylight-saving changes, so that turn really lasts
23 or 25 hours.

Each public function reads the schedules' participants and overrides in a fixed
number of queries and then works in memory; nothing queries per turn or point.
"""

import datetime as dt
import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.db.models import Q

from escalation.models import LayerParticipant, OnCallSchedule, ScheduleOverride, Team

# The longest window a timeline is computed for: a year of hourly turns is ~9k points per layer.
MAX_WINDOW = dt.timedelta(days=366)
# How far ahead `oncall_now` looks for the end of the current shift; beyond it the end is unknown.
UNTIL_HORIZON = MAX_WINDOW
_INSTANT = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class Shift:
    """One person on call from `starts_at` (inclusive) to `ends_at` (exclusive), in UTC."""

    user: User
    starts_at: dt.datetime
    ends_at: dt.datetime


@dataclass(frozen=True)
class TeamOnCall:
    """Who a team's schedule puts on call at a moment, and until when (None: nobody, or no end in sight)."""

    team: Team
    schedule: OnCallSchedule
    user: User | None
    ends_at: dt.datetime | None


@dataclass(frozen=True)
class _Layer:
    position: int
    zone: ZoneInfo
    first_handoff: dt.datetime  # naive, wall-clock time in `zone`
    length: dt.timedelta
    users: tuple[User, ...]

    def boundary(self, turn: int) -> dt.datetime:
        """The UTC instant turn `turn` starts: the first hand-off's wall-clock time plus whole rotations."""
        wall = self.first_handoff + turn * self.length
        # fold=0 (the default) for wall-clock times a transition makes odd: an ambiguous time (clocks
        # going back) is its first occurrence, so the hand-off happens as soon as the clock shows it;
        # a nonexistent time (clocks going forward) gets the offset from before the jump, so 02:30 on
        # the spring-forward night becomes 03:30 summer time: the turn starts late, never early.
        # The round-trip through UTC turns that into a real instant. Boundaries keep their order
        # as long as a rotation is no shorter than the jump (a rotation is at least an hour).
        return wall.replace(tzinfo=self.zone).astimezone(dt.UTC)

    def turn_at(self, at: dt.datetime) -> int:
        """The turn running at `at`; -1 before the first hand-off."""
        if at < self.boundary(0):
            return -1
        # The wall-clock difference is off from the real one by at most the zone's offset changes,
        # so the estimate is at most a turn or two away from the answer.
        wall = at.astimezone(self.zone).replace(tzinfo=None)
        turn = max((wall - self.first_handoff) // self.length, 0)
        while turn > 0 and self.boundary(turn) > at:
            turn -= 1
        while self.boundary(turn + 1) <= at:
            turn += 1
        return turn

    def user_at(self, at: dt.datetime) -> User | None:
        turn = self.turn_at(at)
        return self.users[turn % len(self.users)] if turn >= 0 else None

    def changes(self, start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
        """The hand-offs strictly inside (start, end), in order."""
        if len({user.pk for user in self.users}) == 1:
            # One person, every turn: only the layer's start changes anything.
            first = self.boundary(0)
            if start < first < end:
                yield first
            return
        turn = self.turn_at(start) + 1
        while (moment := self.boundary(turn)) < end:
            if moment > start:
                yield moment
            turn += 1


@dataclass(frozen=True)
class _Plan:
    """A schedule's rotation read once: layers highest first, overrides newest first."""

    schedule: OnCallSchedule
    layers: tuple[_Layer, ...]
    overrides: tuple[ScheduleOverride, ...]

    def user_at(self, at: dt.datetime) -> User | None:
        for override in self.overrides:
            if override.starts_at <= at < override.ends_at:
                return override.user
        for layer in self.layers:
            user = layer.user_at(at)
            if user is not None:
                return user
        return None

    def changes(self, start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
        """Every moment inside (start, end) where the answer may change, in order (repeats possible)."""
        edges = sorted(
            moment
            for override in self.overrides
            for moment in (override.starts_at, override.ends_at)
            if start < moment < end
        )
        return heapq.merge(edges, *(layer.changes(start, end) for layer in self.layers))

    def shifts(self, start: dt.datetime, end: dt.datetime) -> list[Shift]:
        points = sorted({start, *self.changes(start, end)})
        result: list[Shift] = []
        for begins, ends in zip(points, [*points[1:], end], strict=True):
            user = self.user_at(begins)
            if user is None:
                continue
            last = result[-1] if result else None
            if last is not None and last.ends_at == begins and last.user.pk == user.pk:
                result[-1] = Shift(user=last.user, starts_at=last.starts_at, ends_at=ends)
            else:
                result.append(Shift(user=user, starts_at=begins, ends_at=ends))
        return result

    def shift_end(self, at: dt.datetime, user: User) -> dt.datetime | None:
        """When `user`'s stretch running at `at` ends, if within the horizon."""
        for moment in self.changes(at, at + UNTIL_HORIZON):
            now_on = self.user_at(moment)
            if now_on is None or now_on.pk != user.pk:
                return moment
        return None


def _utc(moment: dt.datetime, name: str) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return moment.astimezone(dt.UTC)


def _window(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start, end = _utc(start, "start"), _utc(end, "end")
    if end <= start:
        raise ValueError("end must be after start")
    if end - start > MAX_WINDOW:
        raise ValueError(f"the window may be at most {MAX_WINDOW.days} days")
    return start, end


def _plans(schedules: Sequence[OnCallSchedule], *, start: dt.datetime, end: dt.datetime) -> dict[int, _Plan]:
    """The rotation of each schedule, with the overrides overlapping [start, end): two queries in all."""
    ids = [schedule.pk for schedule in schedules]
    # Layers nobody takes part in put nobody on call, so reading participants finds every layer that matters.
    participants = (
        LayerParticipant.objects.filter(layer__schedule_id__in=ids)
        .select_related("layer", "user")
        .order_by("layer__schedule_id", "-layer__position", "position")
    )
    layers: dict[int, list[_Layer]] = {pk: [] for pk in ids}
    zones = {schedule.pk: ZoneInfo(schedule.time_zone) for schedule in schedules}
    for _layer_id, group in groupby(participants, key=lambda participant: participant.layer_id):
        members = list(group)
        layer = members[0].layer
        layers[layer.schedule_id].append(
            _Layer(
                position=layer.position,
                zone=zones[layer.schedule_id],
                first_handoff=dt.datetime.combine(layer.start_date, layer.handoff_time),
                length=layer.rotation_length,
                users=tuple(member.user for member in members),
            )
        )
    overrides: dict[int, list[ScheduleOverride]] = {pk: [] for pk in ids}
    for override in (
        ScheduleOverride.objects.filter(schedule_id__in=ids, starts_at__lt=end, ends_at__gt=start)
        .select_related("user")
        .order_by("-created_at", "-id")
    ):
        overrides[override.schedule_id].append(override)
    return {
        schedule.pk: _Plan(
            schedule=schedule, layers=tuple(layers[schedule.pk]), overrides=tuple(overrides[schedule.pk])
        )
        for schedule in schedules
    }


def oncall_user_at(*, schedule: OnCallSchedule, at: dt.datetime) -> User | None:
    """Who `schedule` puts on call at `at`: the newest override covering it, else the highest started layer."""
    at = _utc(at, "at")
    return _plans([schedule], start=at, end=at + _INSTANT)[schedule.pk].user_at(at)


def shifts(*, schedule: OnCallSchedule, start: dt.datetime, end: dt.datetime) -> list[Shift]:
    """The final on-call timeline of `schedule` within [start, end), consecutive turns of one person merged.

    Shifts are cut at the window's edges; stretches with nobody on call are left out.
    Raises ValueError for naive datetimes, an empty window or one longer than MAX_WINDOW.
    """
    start, end = _window(start, end)
    return _plans([schedule], start=start, end=end)[schedule.pk].shifts(start, end)


def shifts_by_schedule(
    *, schedules: Sequence[OnCallSchedule], start: dt.datetime, end: dt.datetime
) -> dict[int, list[Shift]]:
    """`shifts` of many schedules at once, by schedule id: the same two queries however many there are."""
    start, end = _window(start, end)
    plans = _plans(schedules, start=start, end=end)
    return {schedule.pk: plans[schedule.pk].shifts(start, end) for schedule in schedules}


def oncall_now(*, at: dt.datetime, team_slug: str | None = None) -> list[TeamOnCall]:
    """Who each schedule of every team (or of the team `team_slug`) puts on call at `at`, by team and schedule name."""
    at = _utc(at, "at")
    schedules = OnCallSchedule.objects.select_related("team").order_by("team__name", "name")
    if team_slug is not None:
        schedules = schedules.filter(team__slug=team_slug)
    found = list(schedules)
    plans = _plans(found, start=at, end=at + UNTIL_HORIZON)
    result: list[TeamOnCall] = []
    for schedule in found:
        plan = plans[schedule.pk]
        user = plan.user_at(at)
        ends_at = plan.shift_end(at, user) if user is not None else None
        result.append(TeamOnCall(team=schedule.team, schedule=schedule, user=user, ends_at=ends_at))
    return result


def user_shifts(*, user: User, start: dt.datetime, end: dt.datetime) -> list[tuple[OnCallSchedule, Shift]]:
    """`user`'s shifts within [start, end) across every schedule, in time order."""
    start, end = _window(start, end)
    rotations = LayerParticipant.objects.filter(user=user).values("layer__schedule_id")
    overridden = ScheduleOverride.objects.filter(user=user, starts_at__lt=end, ends_at__gt=start).values("schedule_id")
    schedules = list(
        OnCallSchedule.objects.filter(Q(pk__in=rotations) | Q(pk__in=overridden))
        .select_related("team")
        .order_by("team__name", "name")
    )
    plans = _plans(schedules, start=start, end=end)
    found = [
        (schedule, shift)
        for schedule in schedules
        for shift in plans[schedule.pk].shifts(start, end)
        if shift.user.pk == user.pk
    ]
    # Stable: at equal starts the schedules keep their team-and-name order.
    return sorted(found, key=lambda pair: pair[1].starts_at)
