"""Fault injection under load, scripted and repeatable: kill the worker, restart Redis, restart PostgreSQL.

    .venv/bin/python bench/faults.py            (as root or as a user that may run PostgreSQL's initdb)

Steps:
1. Start a private PostgreSQL cluster (initdb in a temporary folder, run as the
   `postgres` OS user) and a private redis-server with its append-only file,
   both on free ports; migrate; write the data the load needs
   (bench/faults_counts.py `prepare`); start granian, a Celery worker on
   every queue, and beat.
2. Run each scenario under load (bench/faults_traffic.py: intake, API creates,
   reads and acknowledgements, the queue page):
   a. SIGKILL the worker just after P1 incidents were created and keep it dead
      past their level-2 deadline, then start a new one;
   b. shut Redis down mid-burst and start it again (the append-only file keeps
      the queues);
   c. `pg_ctl restart -m fast` under load, then stop PostgreSQL for `--down`
      seconds and start it again; nothing of the product is restarted.
   After each, stop the load, wait until the workers have caught up, and count.
3. Wait for the sends a fault cut short after claiming them (they wait out
   their claim's lease), then print the answers and the counts; exit 1 on
   any violation: an accepted request that left no record or two, a step
   paged twice or never, a page or webhook event never received, a 5xx other
   than 503, no answer at all, an answer slower than `--slow` seconds during
   the outage, or anything but 503 while PostgreSQL was surely down.

The servers' folder (and the processes' logs, with `--keep-logs`) is under
/tmp; everything is stopped and removed at exit, on Ctrl-C too.
"""

import argparse
import datetime as dt
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faults_servers import Stack  # noqa: E402
from faults_traffic import Answer, Load, Receiver  # noqa: E402


@dataclass
class Outcome:
    name: str
    answers: list[Answer]
    outage: tuple[float, float] | None = None  # from the stop (or restart) command to PostgreSQL back up
    away: tuple[float, float] | None = None  # from the stop command's return to the start command: surely down
    caught_up_after: float = 0.0
    restarted: list[str] = field(default_factory=list)
    dead: tuple[dt.datetime, dt.datetime] | None = None  # when the worker was dead (wall clock)
    notes: list[str] = field(default_factory=list)


def _pause(stack: Stack, seconds: float, restarted: list[str]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        restarted.extend(stack.supervise())
        time.sleep(0.25)


def kill_worker(stack: Stack, outcome: Outcome, args: argparse.Namespace) -> None:
    from django.utils import timezone

    stack.worker.stop(kill=True)
    outcome.dead = (timezone.now(), timezone.now() + dt.timedelta(seconds=args.dead))
    outcome.notes.append(f"worker SIGKILLed, dead for {args.dead:.0f} s (level 2 falls due after 6 s)")
    time.sleep(args.dead)
    stack.worker.start()


def restart_redis(stack: Stack, outcome: Outcome, args: argparse.Namespace) -> None:
    stack.redis.stop()
    outcome.notes.append(f"Redis shut down for {args.down:.0f} s")
    _pause(stack, args.down, outcome.restarted)
    stack.redis.start()


def restart_postgres(stack: Stack, outcome: Outcome, args: argparse.Namespace) -> None:
    began = time.monotonic()
    stack.postgres.restart()
    outcome.outage = (began, time.monotonic())
    outcome.notes.append(f"pg_ctl restart -m fast took {outcome.outage[1] - began:.1f} s")


def stop_postgres(stack: Stack, outcome: Outcome, args: argparse.Namespace) -> None:
    began = time.monotonic()
    stack.postgres.stop()
    stopped = time.monotonic()
    time.sleep(args.down)
    outcome.away = (stopped, time.monotonic())
    stack.postgres.start()
    outcome.outage = (began, time.monotonic())
    outcome.notes.append(f"PostgreSQL stopped for {outcome.outage[1] - began:.1f} s")


SCENARIOS: dict[str, Callable[[Stack, Outcome, argparse.Namespace], None]] = {
    "a. worker SIGKILL mid-escalation": kill_worker,
    "b. Redis restart mid-burst": restart_redis,
    "c1. PostgreSQL restart (fast)": restart_postgres,
    "c2. PostgreSQL down, then up": stop_postgres,
}


def _caught_up(stack: Stack, restarted: list[str], timeout: float, *, claimed: bool = False) -> tuple[float, str]:
    """Seconds until nothing due is left (alerts, timers, pages, webhook events), and what was left past `timeout`."""
    from django.db import connections
    from faults_counts import LEVEL_DELAY, backlog

    began = time.monotonic()
    time.sleep(LEVEL_DELAY.total_seconds() + 1)  # the last incidents' level 2
    left: dict[str, int] = {}
    while time.monotonic() - began < timeout:
        restarted.extend(stack.supervise())
        connections.close_all()
        left = backlog(claimed=claimed)
        if not any(left.values()):
            return time.monotonic() - began, ""
        time.sleep(1)
    return time.monotonic() - began, f"still left after {timeout:.0f} s: {left}"


def run_scenario(name: str, stack: Stack, load: Load, args: argparse.Namespace) -> Outcome:
    outcome = Outcome(name, [])
    first = len(load.answers)
    load.start()
    _pause(stack, args.before, outcome.restarted)
    SCENARIOS[name](stack, outcome, args)
    _pause(stack, args.after, outcome.restarted)
    load.stop()
    outcome.caught_up_after, left = _caught_up(stack, outcome.restarted, args.settle)
    if left:
        outcome.notes.append(left)
    if outcome.dead is not None:
        from faults_counts import late_steps

        outcome.notes.append(late_steps(*outcome.dead))
    outcome.answers = load.answers[first:]
    return outcome


def _outage_findings(outcome: Outcome, slow: float) -> tuple[list[str], bool]:
    """While PostgreSQL was stopping, away and starting: no 5xx but 503, no answer slower than `slow`;
    while it was surely down, nothing but 503; then how soon each kind of request was answered 2xx again.

    A request answered while the server was still shutting down may well succeed; one answered
    while it was down must be a 503.
    """
    if outcome.outage is None:
        return [], False
    began, ended = outcome.outage
    during = [a for a in outcome.answers if a.at >= began and a.at < ended]
    bad = [a for a in during if (a.status >= 500 and a.status != 503) or a.status == 0 or a.seconds > slow]
    lines = [
        f"during the outage: {len(during)} answers, {sum(a.status == 503 for a in during)} were 503, {len(bad)} 5xx but 503, lost or slower than {slow:.0f} s"
    ]
    if outcome.away is not None:
        down = [a for a in outcome.answers if a.at >= outcome.away[0] and a.at + a.seconds <= outcome.away[1]]
        bad += [a for a in down if a.status != 503]
        lines.append(f"while surely down: {len(down)} answers, {sum(a.status == 503 for a in down)} were 503")
    lines += [f"  {a.kind} answered {a.status} in {a.seconds:.1f} s {a.error}" for a in bad[:5]]
    recovered = []
    for kind in sorted({a.kind for a in outcome.answers}):
        after = [a.at - ended for a in outcome.answers if a.kind == kind and a.at >= ended and 200 <= a.status < 300]
        recovered.append(f"{kind} {min(after):.1f} s" if after else f"{kind} never")
    lines.append("first 2xx after it was back: " + ", ".join(recovered))
    return lines, bool(bad) or any("never" in r for r in recovered)


def report(outcomes: list[Outcome], counts: Callable[[], list[Any]], slow: float) -> bool:
    from faults_counts import answer_summary, no_answers, unavailable_by_kind

    failed = False
    header = f"{'scenario':34} {'requests':>8} {'503':>6} {'other 5xx':>9} {'no answer':>9} {'slowest s':>9} {'caught up s':>11}"
    print("\n" + header + "\n" + "-" * len(header))
    for outcome in outcomes:
        summary = answer_summary(outcome.answers)
        print(
            f"{outcome.name:34} {summary['requests']:>8} {summary['503']:>6} {summary['other 5xx']:>9}"
            f" {summary['no answer']:>9} {summary['slowest s']:>9} {outcome.caught_up_after:>11.1f}"
        )
        findings, outage_failed = _outage_findings(outcome, slow)
        restarts = [f"restarted by the supervisor: {', '.join(outcome.restarted)}"] if outcome.restarted else []
        unanswered = [f"no answer: {line}" for line in no_answers(outcome.answers)]
        unavailable = [f"503 by kind: {by_kind}"] if (by_kind := unavailable_by_kind(outcome.answers)) else []
        for line in [*outcome.notes, *unavailable, *findings, *restarts, *unanswered]:
            print(f"    {line}")
        failed |= outage_failed or bool(summary["other 5xx"] or summary["no answer"])
    header = f"{'count (all scenarios)':62} {'expected':>8} {'counted':>8}  note"
    print("\n" + header + "\n" + "-" * len(header))
    for check in counts():
        mark = "  VIOLATION" if check.violation else ""
        print(f"{check.what:62} {check.expected:>8} {check.counted:>8}  {check.note}{mark}")
        failed |= check.violation
    print("\nFAILED" if failed else "\nOK: nothing lost, nothing doubled, no 5xx but 503")
    return not failed


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=4, help="load threads (default 4)")
    parser.add_argument("--before", type=float, default=8.0, help="seconds of load before each fault")
    parser.add_argument("--after", type=float, default=15.0, help="seconds of load after each fault")
    parser.add_argument("--dead", type=float, default=12.0, help="seconds the worker stays dead")
    parser.add_argument("--down", type=float, default=10.0, help="seconds Redis, then PostgreSQL, stay down")
    parser.add_argument(
        "--slow", type=float, default=5.0, help="an answer slower than this while the database is away fails"
    )
    parser.add_argument("--settle", type=float, default=240.0, help="seconds the workers get to catch up")
    parser.add_argument(
        "--lease-wait", type=float, default=330.0, help="seconds to wait at the end for claims cut short (lease: 300 s)"
    )
    parser.add_argument("--only", choices=[name.split(".")[0] for name in SCENARIOS], action="append")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs under /tmp")
    return parser.parse_args()


def main() -> int:
    args = _arguments()

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    stack = Stack(web_workers=2, worker_concurrency=2)
    receiver = Receiver()
    ok = False
    try:
        print(f"private servers in {stack.folder}")
        stack.start_servers()
        for command in (("migrate", "--noinput"), ("collectstatic", "--noinput"), ("compile_translations",)):
            stack.manage(*command)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itsm.settings")
        import django

        django.setup()
        from faults_counts import count, prepare

        data = prepare(receiver)
        stack.start_apps()
        load = Load(
            base_url=stack.base_url,
            token=data["token"],
            routing_key=data["routing_key"],
            service=data["service"],
            session_cookie=data["session_cookie"],
            threads=args.threads,
        )
        outcomes = []
        for name in SCENARIOS:
            if args.only and name.split(".")[0] not in args.only:
                continue
            print(f"{name} …", flush=True)
            outcomes.append(run_scenario(name, stack, load, args))
        # Sends cut short by a kill or an outage wait out their claim's lease before they go again.
        drained, left = _caught_up(stack, [], args.lease_wait, claimed=True)
        print(f"claims cut short by the faults were sent again after {drained:.0f} s {left}")
        ok = report(outcomes, lambda: count(load, receiver), args.slow)
    except KeyboardInterrupt:
        print("interrupted; stopping the private servers")
    finally:
        receiver.close()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 — Django may not be set up yet; the servers go anyway
            pass
        stack.close(keep=args.keep_logs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
