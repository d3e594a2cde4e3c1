"""Deadlines kept in the database, fired exactly once.

How the clock is kept (DESIGN.md):
1. Each pending deadline is a `Timer` row: due time, fired/cancelled marks and
   a version bumped whenever it moves.
2. Firing is one conditional UPDATE (not fired, not cancelled, due, this
   version) plus an insert under a unique constraint, in one transaction;
   zero rows updated means somebody else fired it, or it moved: do nothing.
3. Two wake-ups call the same `fire_timer`: a precise ETA task enqueued on
   commit for deadlines a few minutes away, and a sweeper every second that
   takes due rows with SKIP LOCKED. A firing locks its incident before its
   timer, as a transition does.
4. What a firing decides to send is written as rows in the same transaction
   and delivered afterwards, with its own retries.
"""

import datetime as dt
import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from escalation.models import Timer, TimerFiring
from incidents.models import Incident

logger = logging.getLogger(__name__)

# ETAs beyond this are left to the sweeper: a task held by Redis past its
# visibility timeout is delivered again and again.
WAKE_AHEAD = dt.timedelta(minutes=10)
# A due timer still unfired after this long means the wake-ups are not working.
OVERDUE_ALARM = dt.timedelta(seconds=30)
SWEEP_BATCH = 200
MAX_BATCHES_PER_SWEEP = 50

# purpose → what firing it does; registered by the modules that own the purposes.
_ACTIONS: dict[str, Callable[[Timer], None]] = {}


def on_fire(purpose: str) -> Callable[[Callable[[Timer], None]], Callable[[Timer], None]]:
    def register(action: Callable[[Timer], None]) -> Callable[[Timer], None]:
        _ACTIONS[purpose] = action
        return action

    return register


# A deadline to set: (purpose, clock, escalation level, due time).
Step = tuple[str, str, int, dt.datetime]


def arm_timer(*, incident: Incident, purpose: str, clock: str, due_at: dt.datetime, level: int = 0) -> Timer | None:
    """Set (or move) a deadline; None when that step has already fired."""
    armed = arm_steps(incident=incident, steps=[(purpose, clock, level, due_at)])
    return armed[0] if armed else None


def arm_timers(
    *, incident: Incident, purpose: str, clock: str, steps: Sequence[tuple[int, dt.datetime]]
) -> list[Timer]:
    """Set (or move) the deadlines of these (level, due time) steps of one clock (`arm_steps`)."""
    return arm_steps(incident=incident, steps=[(purpose, clock, level, due_at) for level, due_at in steps])


def arm_steps(*, incident: Incident, steps: Sequence[Step]) -> list[Timer]:
    """Set (or move) these deadlines of the incident with one statement; return the timers armed,
    in the order of `steps` (which is also the order of their ids), leaving out steps already fired.

    A step with no timer gets one; a step whose timer has not fired has it moved
    (due time, no longer cancelled, version bumped); a fired step stays as it is.
    """
    if not steps:
        return []
    due_field = Timer._meta.get_field("due_at")
    created = due_field.get_db_prep_save(timezone.now(), connection)
    params: list[Any] = []
    for purpose, clock, level, due_at in steps:
        params += [incident.pk, purpose, clock, level, due_field.get_db_prep_save(due_at, connection), created]
    with connection.cursor() as cursor:
        cursor.execute(_upsert_sql(len(steps)), params)
        armed = {(purpose, clock, level): (pk, version) for pk, purpose, clock, level, version in cursor.fetchall()}
    timers = []
    for purpose, clock, level, due_at in steps:
        if (purpose, clock, level) in armed:
            pk, version = armed[purpose, clock, level]
            timer = Timer(
                pk=pk, incident=incident, purpose=purpose, clock=clock, level=level, due_at=due_at, version=version
            )
            timers.append(timer)
            _wake_on_commit(timer)
    return timers


@functools.cache
def _upsert_sql(rows: int) -> str:
    table = connection.ops.quote_name(Timer._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s, %s, 1, %s)"] * rows)
    # The conflict target is the unique step (timer_once_per_step).
    return (
        f"INSERT INTO {table} (incident_id, purpose, clock, level, due_at, version, created_at) VALUES {values} "  # noqa: S608 — the model's table
        "ON CONFLICT (incident_id, purpose, clock, level) DO UPDATE "
        f"SET due_at = excluded.due_at, cancelled_at = NULL, version = {table}.version + 1 "
        f"WHERE {table}.fired_at IS NULL "
        "RETURNING id, purpose, clock, level, version"
    )


def disarm_timers(*, incident: Incident, clock: str | None = None, purposes: tuple[str, ...] = ()) -> int:
    """Cancel pending deadlines of the incident (of one clock, of some purposes)."""
    pending = Timer.objects.filter(incident=incident, fired_at__isnull=True, cancelled_at__isnull=True)
    if clock is not None:
        pending = pending.filter(clock=clock)
    if purposes:
        pending = pending.filter(purpose__in=purposes)
    return pending.update(cancelled_at=timezone.now(), version=F("version") + 1)


def _wake_on_commit(timer: Timer) -> None:
    delay = timer.due_at - timezone.now()
    if delay > WAKE_AHEAD:
        return
    timer_id, version, eta = timer.pk, timer.version, max(timer.due_at, timezone.now())

    def wake() -> None:
        from escalation.tasks import fire_timer_task

        fire_timer_task.apply_async(args=(timer_id, version), eta=eta)

    # Robust: a broker that is down must not turn a committed change into an
    # error for the caller; the sweeper fires the deadline all the same.
    transaction.on_commit(wake, robust=True)


def fire_timer(*, timer_id: int, version: int | None = None) -> bool:
    """Fire one due timer if nobody has; True when this call fired it.

    1. Lock the incident's row, as every write to an incident does first
       (`lifecycle.lock_incident`): a firing and a transition of one incident
       queue up. Locked after the timer, the two deadlocked: a transition held
       the incident and waited for the timer to cancel it, while the firing
       held the timer and waited for the escalation run the transition held.
    2. Mark it fired with one conditional UPDATE; no row → nothing to do.
    3. Record the firing under its unique key; a duplicate → roll back.
    4. Run the purpose's action; its rows commit with the firing, or neither does.
    """
    now = timezone.now()
    incident_id = Timer.objects.filter(pk=timer_id).values_list("incident_id", flat=True).first()
    if incident_id is None:
        return False
    with transaction.atomic():
        list(Incident.objects.select_for_update().filter(pk=incident_id).values_list("pk", flat=True))
        claim = Timer.objects.filter(pk=timer_id, fired_at__isnull=True, cancelled_at__isnull=True, due_at__lte=now)
        if version is not None:
            claim = claim.filter(version=version)
        if claim.update(fired_at=now) != 1:
            return False
        timer = Timer.objects.select_related("incident").get(pk=timer_id)
        try:
            with transaction.atomic():
                TimerFiring.objects.create(
                    incident=timer.incident,
                    timer=timer,
                    purpose=timer.purpose,
                    clock=timer.clock,
                    level=timer.level,
                    due_at=timer.due_at,
                    fired_at=now,
                )
        except IntegrityError:
            transaction.set_rollback(True)
            logger.warning("timer %s already fired under another row", timer_id)
            return False
        _ACTIONS[timer.purpose](timer)
    lateness = (now - timer.due_at).total_seconds()
    logger.info(
        "fired %s %s/%s of %s, %.3f s after its deadline",
        timer.purpose,
        timer.clock,
        timer.level,
        timer.incident.number,
        lateness,
        extra={"incident": timer.incident.number, "timer": timer_id, "lateness": lateness},
    )
    return True


def overdue_timer_count() -> int:
    """Timers due longer than OVERDUE_ALARM ago and still unfired: the wake-ups are not keeping up."""
    return Timer.objects.filter(
        fired_at__isnull=True, cancelled_at__isnull=True, due_at__lte=timezone.now() - OVERDUE_ALARM
    ).count()


def sweep_due_timers(*, batch: int = SWEEP_BATCH) -> int:
    """Fire every due timer the ETA wake-ups missed; returns how many this call fired.

    Each batch takes due rows with SKIP LOCKED, so a sweeper passes over rows
    another sweeper or an ETA task is firing, and lets them go again before
    firing them one by one, each in a transaction of its own (`fire_timer`),
    whose conditional claim keeps a row from firing twice. Holding the batch
    while firing it took the incidents' locks after the timers', the order
    that deadlocks with a transition.
    """
    fired = 0
    # A firing can arm a timer that is due at once (the first step of an
    # escalation): the next batch takes it. Bounded, so a sweep always ends.
    for _ in range(MAX_BATCHES_PER_SWEEP):
        fired_before = fired
        with transaction.atomic():
            due = Timer.objects.filter(
                fired_at__isnull=True, cancelled_at__isnull=True, due_at__lte=timezone.now()
            ).order_by("due_at", "id")
            if connection.features.has_select_for_update_skip_locked:
                due = due.select_for_update(skip_locked=True)
            rows = list(due.values_list("pk", "version")[:batch])
        for timer_id, version in rows:
            try:
                fired += fire_timer(timer_id=timer_id, version=version)
            except Exception:
                # One broken action must not hold back every other deadline;
                # its timer stays due and the overdue alarm below reports it.
                logger.exception("firing timer %s failed", timer_id)
        if not rows or fired == fired_before:
            break
    overdue = overdue_timer_count()
    if overdue:
        logger.error("%d timers are overdue by more than %s and not fired", overdue, OVERDUE_ALARM)
    return fired
