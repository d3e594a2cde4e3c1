"""What every row the product sends later shares: claims with a lease, back-off, sweeps.

Notifications (`escalation.delivery`) and outbound webhooks
(`escalation.webhook_delivery`) are both written as pending rows in the
transaction that decided to send them, and delivered afterwards:

1. A send happens only after one conditional UPDATE has claimed the row
   (still pending, due, attempts left): it bumps `attempts` and pushes
   `next_attempt_at` out by CLAIM_LEASE, so a second worker, a redelivered
   task or an overlapping sweep updates 0 rows and leaves it alone.
2. A claimer that dies mid-send lets its lease run out; the row is due again,
   so delivery is at-least-once and each message carries a key that lets the
   receiver drop repeats.
3. A precise task is enqueued on commit for rows due within MAX_COUNTDOWN;
   a sweeper takes whatever is due that no task delivered (a lost publish, a
   killed worker, a longer wait), taking ids with SKIP LOCKED.
"""

import datetime as dt
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Model, QuerySet
from django.utils import timezone

BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(minutes=15)
BACKOFF_JITTER = 0.1
# A task whose ETA lies beyond the broker's visibility timeout is redelivered
# over and over while it waits; longer waits are left to the sweeper.
MAX_COUNTDOWN = dt.timedelta(minutes=10)
# Longer than any delivery task's hard time limit, so a claim runs out only
# once its worker is certainly gone (no two sends of one row overlap).
CLAIM_LEASE = dt.timedelta(minutes=5)
SWEEP_BATCH = 100
# How long a worker that has just sent something keeps trying to write that down while the
# database is away (a restart takes seconds); past it the row waits out its lease and goes again.
RECORD_PATIENCE_SECONDS = 60.0

T = TypeVar("T")
SWEEP_BUDGET_SECONDS = 180.0


@dataclass(frozen=True)
class DeliveryResult:
    """What one delivery attempt left behind.

    `retry_at` is set only when this very call failed retryably and scheduled
    the next attempt, so only the caller that made the attempt schedules it
    (a duplicate task that claimed nothing must not schedule another).
    """

    status: str
    retry_at: dt.datetime | None = None


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait after the `attempts`-th failed attempt: 30 s doubling, capped, plus up to 10 % jitter."""
    delay = min(BACKOFF_BASE * 2 ** min(max(attempts, 1) - 1, 16), BACKOFF_CAP)
    # Jitter spreads the retries of many messages to one receiver that failed together.
    jitter = random.uniform(0, BACKOFF_JITTER)  # noqa: S311 — spreading load, not a secret
    return min(delay * (1 + jitter), BACKOFF_CAP)


def claim(due: QuerySet[Any], *, max_attempts: int, now: dt.datetime) -> bool:
    """Take the due row(s) in `due` for one attempt; True when this caller holds the claim.

    `due` must already say "pending and due"; the row needs `attempts` and
    `next_attempt_at` columns.
    """
    return bool(
        due.filter(attempts__lt=max_attempts).update(attempts=F("attempts") + 1, next_attempt_at=now + CLAIM_LEASE)
    )


def countdown_until(due_at: dt.datetime) -> int | None:
    """Seconds until `due_at` for a task's countdown; None when that is the sweeper's to wake."""
    countdown = max(0.0, (due_at - timezone.now()).total_seconds())
    if countdown > MAX_COUNTDOWN.total_seconds():
        return None
    return math.ceil(countdown)


def schedule(task: Any, row_id: int, due_at: dt.datetime) -> None:
    """Have `task` deliver the row at `due_at`; rows due beyond MAX_COUNTDOWN are the sweeper's."""
    countdown = countdown_until(due_at)
    if countdown is not None:
        task.apply_async(args=(row_id,), countdown=countdown)


def schedule_on_commit(task: Any, rows: Iterable[Any]) -> None:
    """Schedule each row's delivery once the current transaction commits.

    A broker that cannot be reached does not undo the caller's change (a
    robust hook): the rows are pending in the database and the sweeper sends them.
    """
    due = [(row.pk, row.next_attempt_at) for row in rows]

    def schedule_all() -> None:
        for row_id, due_at in due:
            schedule(task, row_id, due_at)

    if due:
        transaction.on_commit(schedule_all, robust=True)


def reset_for_redelivery(model: type[Model], row_id: int, *, actor: Any, now: dt.datetime) -> bool:
    """Make a delivered or failed row pending again, due now, with a fresh set of attempts and who asked.

    False when the row is still pending (or gone): there is nothing to redeliver.
    """
    updated = model._default_manager.filter(pk=row_id, status__in=("failed", "delivered")).update(
        status="pending",
        attempts=0,
        next_attempt_at=now,
        delivered_at=None,
        redelivered_by=actor if actor.is_authenticated else None,
        redelivered_at=now,
    )
    return bool(updated)


def due_ids(due: QuerySet[Any], *, after: int, limit: int) -> list[int]:
    """The next `limit` ids of `due` past `after`, in id order, skipping rows another worker has locked."""
    rows = due.filter(pk__gt=after).order_by("pk")
    if not connection.features.has_select_for_update_skip_locked:
        return list(rows.values_list("pk", flat=True)[:limit])
    # Rows another worker is claiming right now are skipped rather than waited
    # for; the lock is only for taking ids; the claim decides who sends.
    with transaction.atomic():
        return list(rows.select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])


def sweep(
    due: Callable[[], QuerySet[Any]],
    attempt: Callable[[int], object],
    *,
    batch_size: int = SWEEP_BATCH,
    budget_seconds: float = SWEEP_BUDGET_SECONDS,
) -> int:
    """Call `attempt(id)` for every row `due()` returns, oldest first; return how many were tried.

    Stops starting new attempts once `budget_seconds` have passed; the next
    sweep carries on where the due rows are.
    """
    deadline = time.monotonic() + budget_seconds
    tried = 0
    last_id = 0
    while time.monotonic() < deadline:
        ids = due_ids(due(), after=last_id, limit=batch_size)
        if not ids:
            break
        for row_id in ids:
            if time.monotonic() >= deadline:
                return tried
            attempt(row_id)
            tried += 1
        last_id = ids[-1]
    return tried


def record_after_send(write: Callable[[], T], *, patience: float = RECORD_PATIENCE_SECONDS) -> T:
    """Run `write`, the statement that records a send that has happened, again while the database is away.

    Giving up at once would leave the row claimed until CLAIM_LEASE runs out:
    the receiver would wait minutes for a repeat of what it already has (a page
    five minutes late to whoever the first one did not reach). Outside a
    transaction only: a broken connection is closed before each new try.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError):
            if connection.in_atomic_block or time.monotonic() >= deadline:
                raise
        connection.close()
        time.sleep(1.0)
