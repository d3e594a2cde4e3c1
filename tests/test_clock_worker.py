"""The clock in real processes: a Celery worker (and beat, the sweeper) against the real broker.

CI runs this on Redis + PostgreSQL and again on the file-system broker + SQLite.
"""

import datetime as dt
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from django.db.models import Count

from escalation.models import EscalationLevel, EscalationPolicy, Notification, Timer, TimerFiring
from incidents import lifecycle
from incidents.models import Incident
from itsm.celery import app as celery_app
from tests.processes import start_celery, stop, wait_for

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]
LEVEL_DELAY = dt.timedelta(seconds=4)


@pytest.fixture
def clean_queue() -> None:
    # Wake-ups left by earlier tests point at rows that no longer exist; clear them first.
    celery_app.control.purge()


@pytest.fixture
def worker(clean_queue: None, tmp_path: Path) -> Iterator[Any]:
    process = start_celery("worker", "--concurrency=2", "--without-mingle", "--without-gossip", log=tmp_path / "w.log")
    yield process
    stop(process)


@pytest.fixture
def two_level_policy(make_user: Any, service: Any) -> EscalationPolicy:
    """Level 1, then level 2 four seconds later (real policies wait minutes; the mechanism is the same)."""
    policy = EscalationPolicy.objects.create(name="Payments", is_default=True)
    for position, name in ((1, "first"), (2, "second")):
        user = make_user("agent", username=name)
        user.email = f"{name}@example.com"
        user.save()
        level = EscalationLevel.objects.create(policy=policy, position=position, escalate_after=LEVEL_DELAY)
        level.users.add(user)
    return policy


def pages(incident: Incident) -> list[tuple[str, int | None, str]]:
    rows = Notification.objects.filter(incident=incident).select_related("user").order_by("id")
    return [(n.user.username if n.user else "", n.level, n.status) for n in rows]


def test_unacknowledged_p1_pages_level_1_then_level_2_then_stops_on_acknowledge(
    worker: Any, two_level_policy: EscalationPolicy, make_incident: Any, agent: Any
) -> None:
    incident = make_incident(impact="high", urgency="high")

    # Level 1 is due at once: the worker fires it from the wake-up sent on commit, before level 2
    # (whose email may overtake level 1's on a loaded machine: the order of paging is what counts).
    assert wait_for(lambda: [page[:2] for page in pages(incident)][:1] == [("first", 1)], timeout=30)
    assert wait_for(lambda: pages(incident) == [("first", 1, "sent"), ("second", 2, "sent")], timeout=30)
    first, second = TimerFiring.objects.filter(incident=incident, purpose="escalation_step").order_by("level")
    assert second.due_at - first.due_at == LEVEL_DELAY
    assert second.fired_at >= second.due_at
    assert (second.fired_at - second.due_at).total_seconds() < 2

    lifecycle.acknowledge_incident(incident=incident, actor=agent)
    # Level 1 again (the policy's repeat) never comes: every remaining step is cancelled.
    assert not wait_for(lambda: len(pages(incident)) > 2, timeout=LEVEL_DELAY.total_seconds() + 3)
    remaining = Timer.objects.filter(incident=incident, purpose="escalation_step", fired_at=None)
    assert remaining.exists() == (two_level_policy.repeat_count > 0)
    assert not remaining.filter(cancelled_at=None).exists()


def test_acknowledging_before_level_2_means_level_2_never_pages(
    worker: Any, two_level_policy: EscalationPolicy, make_incident: Any, agent: Any
) -> None:
    incident = make_incident(impact="high", urgency="high")
    # Acknowledged as soon as level 1 has paged. Its email may still be on its way (a loaded
    # machine can take longer than LEVEL_DELAY to send it); if so, the acknowledgement cancels it.
    assert wait_for(lambda: [page[:2] for page in pages(incident)] == [("first", 1)], timeout=30)
    lifecycle.acknowledge_incident(incident=incident, actor=agent)
    assert wait_for(lambda: pages(incident)[0][2] in ("sent", "cancelled"), timeout=30)

    # The wake-up for level 2 still arrives at its time; it finds the step cancelled and does nothing.
    assert not wait_for(lambda: len(pages(incident)) > 1, timeout=LEVEL_DELAY.total_seconds() + 3)
    second = Timer.objects.get(incident=incident, purpose="escalation_step", level=1)
    assert (second.fired_at, second.cancelled_at is not None) == (None, True)


def _burst(make_incident: Any, count: int) -> list[int]:
    return [make_incident(title=f"Burst {i}", impact="high", urgency="high").pk for i in range(count)]


def _fired_steps(ids: list[int]) -> dict[int, int]:
    rows = (
        TimerFiring.objects.filter(incident_id__in=ids, purpose="escalation_step")
        .values("incident_id")
        .annotate(n=Count("id"))
    )
    return {row["incident_id"]: row["n"] for row in rows}


def _assert_exactly_once(ids: list[int]) -> None:
    assert _fired_steps(ids) == dict.fromkeys(ids, 1)
    per_incident = Notification.objects.filter(incident_id__in=ids).values("incident_id").annotate(n=Count("id"))
    assert {row["incident_id"]: row["n"] for row in per_incident} == dict.fromkeys(ids, 1)
    assert not Timer.objects.filter(
        incident_id__in=ids, purpose="escalation_step", level=0, fired_at=None, cancelled_at=None
    ).exists()


@pytest.fixture
def one_level_policy(make_user: Any) -> EscalationPolicy:
    policy = EscalationPolicy.objects.create(name="Burst", is_default=True)
    user = make_user("agent", username="pager")
    user.email = "pager@example.com"
    user.save()
    EscalationLevel.objects.create(policy=policy, position=1).users.add(user)
    return policy


def test_worker_killed_mid_burst_loses_nothing_and_doubles_nothing(
    clean_queue: None, one_level_policy: EscalationPolicy, make_incident: Any, tmp_path: Path
) -> None:
    first = start_celery("worker", "--concurrency=2", "--without-mingle", "--without-gossip", log=tmp_path / "a.log")
    beat = None
    try:
        ids = _burst(make_incident, 150)
        assert wait_for(lambda: len(_fired_steps(ids)) >= 10, timeout=60)
        stop(first, kill=True)  # SIGKILL, mid-burst: tasks in flight die with it
        fired_when_killed = len(_fired_steps(ids))
        assert fired_when_killed < len(ids)

        # A new worker, and beat for the sweeper: the database says what is still due.
        second = start_celery(
            "worker", "--concurrency=2", "--without-mingle", "--without-gossip", log=tmp_path / "b.log"
        )
        beat = start_celery("beat", f"--schedule={tmp_path / 'beat-schedule'}", log=tmp_path / "beat.log")
        assert wait_for(lambda: len(_fired_steps(ids)) == len(ids), timeout=120)
        stop(second)
    finally:
        stop(first, kill=True)
        if beat is not None:
            stop(beat)
    _assert_exactly_once(ids)


def _redis_server() -> tuple[str, int] | None:
    url = os.environ.get("REDIS_URL", "")
    parsed = urlparse(url)
    if parsed.scheme != "redis" or parsed.hostname not in ("127.0.0.1", "localhost"):
        return None
    return parsed.hostname, parsed.port or 6379


@pytest.mark.skipif(_redis_server() is None, reason="needs the local Redis broker (CI's Redis pass)")
@pytest.mark.exclusive
def test_redis_restart_mid_burst_loses_nothing_and_doubles_nothing(
    clean_queue: None, one_level_policy: EscalationPolicy, make_incident: Any, tmp_path: Path
) -> None:
    host, port = _redis_server() or ("127.0.0.1", 6379)
    commands = {
        "worker": ("worker", "--concurrency=2", "--without-mingle", "--without-gossip"),
        "beat": ("beat", f"--schedule={tmp_path / 'beat-schedule'}"),
    }
    # The burst is in place before any worker runs, so Redis goes away mid-burst however fast the
    # incidents were written: every step is then waiting in the broker or on its timer row.
    ids = _burst(make_incident, 150)
    processes = {name: start_celery(*command, log=tmp_path / f"{name}.log") for name, command in commands.items()}

    def supervised_progress() -> bool:
        # Like docker's `restart: unless-stopped`: a Celery process that died when its broker
        # vanished (kombu can give up with "Unrecoverable error" then) is started again.
        for name, process in processes.items():
            if process.poll() is not None:
                processes[name] = start_celery(*commands[name], log=tmp_path / f"{name}.log")
        return len(_fired_steps(ids)) == len(ids)

    start_redis = ["redis-server", "--daemonize", "yes", "--bind", host, "--port", str(port), "--save", ""]
    redis_down = False
    try:
        assert wait_for(lambda: len(_fired_steps(ids)) >= 10, timeout=60, interval=0.02)
        # Redis goes away with everything queued in it (it keeps nothing on disk here).
        subprocess.run(["redis-cli", "-h", host, "-p", str(port), "shutdown", "nosave"], check=False, timeout=30)  # noqa: S603, S607
        redis_down = True
        assert len(_fired_steps(ids)) < len(ids), "the burst ended before Redis went away"
        subprocess.run(start_redis, check=True, timeout=30)  # noqa: S603, S607 — the machine's Redis, by name
        redis_down = False
        assert wait_for(supervised_progress, timeout=120, interval=0.5)
    finally:
        if redis_down:
            # Whatever failed, the machine's Redis is everyone's: bring it back.
            subprocess.run(start_redis, check=False, timeout=30)  # noqa: S603, S607
        for process in processes.values():
            stop(process)
    _assert_exactly_once(ids)
