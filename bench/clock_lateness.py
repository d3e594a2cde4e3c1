"""How late does the clock fire? 10,000 open incidents on timers, real workers and beat.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/itsm_bench \
    REDIS_URL=redis://127.0.0.1:6379/14 CELERY_QUEUE=bench \
    .venv/bin/python bench/clock_lateness.py --incidents 10000 --moved 1000 --window 300

1. Migrate a database of its own, empty it, and open N P3 incidents through
   the domain functions (acknowledge and resolve clocks: 4 timers apiece).
2. Start the workers as production runs them — one on the default queue
   (deliveries), one on the clock's queue — and beat (the sweeper).
3. Move `--moved` of the acknowledge-warning deadlines to moments spread
   evenly over the next `--window` seconds, the way deadlines always move
   (`arm_timer`: a new version, a wake-up enqueued on commit). Each warning
   that fires starts an escalation whose first step is due at once and pages.
4. When all have fired, read the lateness (fired_at − due_at) of every firing
   from the database, and time the sweeper's pass over the pending rows.
"""

import argparse
import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itsm.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret")
os.environ.setdefault("EMAIL_URL", "dummymail://")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def ensure_database(url: str) -> None:
    """Create the bench database if it does not exist yet."""
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    maintenance = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')  # the name comes from the operator's own URL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=300, help="seconds over which the deadlines are spread")
    parser.add_argument("--moved", type=int, default=1_000, help="how many deadlines to bring into the window")
    parser.add_argument("--concurrency", type=int, default=2, help="processes of the delivery worker")
    parser.add_argument("--clock-concurrency", type=int, default=2, help="processes of the clock worker")
    arguments = parser.parse_args()

    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database of its own (it is emptied).")

    ensure_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from escalation import timers
    from escalation.models import EscalationLevel, EscalationPolicy, Notification, Timer, TimerFiring
    from incidents.models import Incident
    from incidents.services import report_incident
    from itsm.celery import app

    print("migrating and emptying the bench database …", flush=True)
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    app.control.purge()

    agent = User.objects.create_user("bench-agent", email="agent@example.com")
    agent.groups.add(Group.objects.get(name="agent"))
    policy = EscalationPolicy.objects.create(name="Bench", is_default=True)
    EscalationLevel.objects.create(policy=policy, position=1).users.add(agent)

    started = time.monotonic()
    batch = 500
    for first in range(0, arguments.incidents, batch):
        with transaction.atomic():
            for i in range(first, min(first + batch, arguments.incidents)):
                report_incident(reporter=agent, title=f"Bench incident {i}", impact="medium", urgency="medium")
        print(f"  opened {min(first + batch, arguments.incidents)}/{arguments.incidents}", flush=True)
    pending = Timer.objects.filter(fired_at=None, cancelled_at=None).count()
    print(
        f"opened {Incident.objects.count()} incidents with {pending} pending timers in {time.monotonic() - started:.0f} s"
    )

    logs = ROOT / "var" / "bench"
    logs.mkdir(parents=True, exist_ok=True)

    def celery(log: str, *command: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # noqa: S603 — our own interpreter and app
            [sys.executable, "-m", "celery", "-A", "itsm", *command],
            cwd=ROOT,
            env={**os.environ},
            stdout=(logs / log).open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    workers = ("--without-mingle", "--without-gossip")
    processes = [
        celery("worker.log", "worker", f"--concurrency={arguments.concurrency}", *workers,
               "-Q", settings.CELERY_TASK_DEFAULT_QUEUE),
        celery("clock.log", "worker", f"--concurrency={arguments.clock_concurrency}", *workers,
               "-Q", settings.CELERY_CLOCK_QUEUE, "-n", "clock@%h"),
        celery("beat.log", "beat", f"--schedule={logs / 'beat-schedule'}"),
    ]  # fmt: skip
    try:
        time.sleep(5)
        warnings = list(
            Timer.objects.filter(purpose="sla_warning", clock="acknowledge").select_related("incident")[
                : arguments.moved
            ]
        )
        # Moving the rows takes a while (about 5 ms each); no deadline may fall before its move commits.
        begin = timezone.now() + dt.timedelta(seconds=10 + len(warnings) / 150)
        step = dt.timedelta(seconds=arguments.window) / len(warnings)
        for first in range(0, len(warnings), batch):
            with transaction.atomic():
                for index, timer in enumerate(warnings[first : first + batch], start=first):
                    timers.arm_timer(
                        incident=timer.incident,
                        purpose=timer.purpose,
                        clock=timer.clock,
                        due_at=begin + step * index,
                    )
        print(f"moved {len(warnings)} deadlines into the next {arguments.window} s; waiting …", flush=True)

        expected = 2 * len(warnings)  # each warning, and the escalation step it starts
        deadline = time.monotonic() + arguments.window + len(warnings) / 150 + 300
        while time.monotonic() < deadline:
            done = TimerFiring.objects.filter(purpose__in=["sla_warning", "escalation_step"]).count()
            if done >= expected:
                break
            time.sleep(2)
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)

    for purpose in ("sla_warning", "escalation_step"):
        firings = list(TimerFiring.objects.filter(purpose=purpose))
        lateness = [(f.fired_at - f.due_at).total_seconds() for f in firings]
        if not lateness:
            print(f"{purpose}: nothing fired")
            continue
        print(
            f"{purpose}: {len(lateness)} fired for {len({f.incident_id for f in firings})} incidents; "
            f"lateness p50 {percentile(lateness, 0.5):.3f} s, p90 {percentile(lateness, 0.9):.3f} s, "
            f"p99 {percentile(lateness, 0.99):.3f} s, max {max(lateness):.3f} s"
        )
    print(f"pages written: {Notification.objects.count()} for {len(warnings)} incidents")

    still_pending = Timer.objects.filter(fired_at=None, cancelled_at=None).count()
    costs = []
    for _ in range(50):
        tick = time.perf_counter()
        timers.sweep_due_timers()
        costs.append((time.perf_counter() - tick) * 1000)
    print(
        f"sweeper pass with {still_pending} pending timers and nothing due: "
        f"median {statistics.median(costs):.2f} ms, p99 {percentile(costs, 0.99):.2f} ms"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN ANALYZE SELECT id, version FROM escalation_timer "
            "WHERE fired_at IS NULL AND cancelled_at IS NULL AND due_at <= now() ORDER BY due_at, id LIMIT 200 "
            "FOR UPDATE SKIP LOCKED"
        )
        print("\n".join(row[0] for row in cursor.fetchall()))


if __name__ == "__main__":
    main()
