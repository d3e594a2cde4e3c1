"""A working day, compressed: Locust mixes alert intake, API reads and writes and UI pages for 10 minutes.

    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/load.py --duration 600 --users 40 --spawn-rate 4

1. A fresh PostgreSQL database (`--database`, default `itsm_load`: dropped and
   made again) and an emptied Redis database (`--redis`): migrate, static
   files, the demo data; users for the load (agents with API tokens, incident
   managers for the UI), an Alertmanager and a PagerDuty integration without
   a rate limit, through the product's own commands.
2. granian, the product's server (2 × 2 on 2 cores, as bench/intake.py explains), one
   Celery worker on every queue (default, clock, webhooks; concurrency 2, as
   the Procfile) and beat.
3. Locust, headless on loopback, runs bench/load/locustfile.py for
   `--duration` seconds with `--users` users started `--spawn-rate` a second;
   the CPU each component used meanwhile is read from /proc (`others` is the
   rest of the machine: on a shared one, say how busy it was).
4. The worker drains: no alert event pending and the broker's queues empty.
5. The books (bench/load_books.py): every accepted event and every created
   incident accounted for in the database.
6. Every process stopped, whatever happened (Ctrl-C too); the database is
   kept for a look afterwards, Redis emptied. Prints the error rate and each
   request type's count and p50/p95/p99 from Locust's CSV, and the books.
   Exits non-zero on any wrong book or any 5xx. Logs: var/bench/load-*.log.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from io import StringIO
from pathlib import Path
from typing import Any

from intake import (
    LOGS,
    OUR_DATABASES,
    ROOT,
    code_version,
    cores_used,
    free_port,
    manage,
    product_env,
    recreate_database,
    server_command,
    server_label,
    server_settings,
    start,
    stop,
    take_snapshot,
    wait_until_listening,
)
from load_books import check_books, read_record

LOCUSTFILE = ROOT / "bench" / "load" / "locustfile.py"
PREFIX = "load"
# Services from the demo data the integrations and the API writers' incidents belong to.
SERVICES = ["checkout-payments", "customer-dashboard", "logistics-tracking", "identity"]


def settings_for(arguments: argparse.Namespace, var_dir: Path) -> dict[str, str]:
    database_url = f"{arguments.postgres.rstrip('/')}/{arguments.database}"
    return {
        **product_env(database_url, arguments.redis, arguments.queue, var_dir),
        # Plain HTTP on loopback: cookies marked Secure would not come back (TLS ends at a proxy in production).
        "SECURE_COOKIES": "false",
    }


def prepare(arguments: argparse.Namespace, env: dict[str, str], var_dir: Path) -> dict[str, Any]:
    """Database, static files, demo data, the load's users and integrations; return the locustfile's config."""
    import redis

    recreate_database(arguments.postgres.rstrip("/"), arguments.database)
    redis.Redis.from_url(arguments.redis).flushdb()
    print(f"migrating {arguments.database}, static files, demo data …", flush=True)
    manage("migrate", "--noinput", env=env)
    manage("collectstatic", "--noinput", env=env)
    manage("load_demo_data", env=env)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    from incidents.roles import AGENT, INCIDENT_MANAGER

    def last_line(*command: str) -> str:
        output = StringIO()
        call_command(*command, stdout=output)
        return output.getvalue().strip().splitlines()[-1].strip()

    tokens, people = [], []
    for number in range(arguments.accounts):
        agent = User.objects.create_user(f"load-agent-{number}", email=f"load-agent-{number}@load.example")
        agent.groups.add(Group.objects.get(name=AGENT))
        tokens.append(last_line("create_api_token", agent.username))
        password = secrets.token_urlsafe(12)
        manager = User.objects.create_user(f"load-manager-{number}", password=password)
        manager.groups.add(Group.objects.get(name=INCIDENT_MANAGER))
        people.append((manager.username, password))
    return {
        "pagerduty_key": last_line("create_integration", SERVICES[0], "pagerduty", "--rate-limit", "0"),
        "alertmanager_key": last_line("create_integration", SERVICES[1], "alertmanager", "--rate-limit", "0"),
        "api_tokens": tokens,
        "ui_users": people,
        "services": SERVICES,
        "pagerduty_keys": arguments.pagerduty_keys,
        "alert_groups": arguments.alert_groups,
        "record": str(LOGS / "load-record.jsonl"),
        "statuses": str(LOGS / "load-statuses.json"),
    }


def serve(arguments: argparse.Namespace, env: dict[str, str], var_dir: Path, started: dict[str, Any]) -> str:
    """The web server, the worker and beat into `started`; return the server's base URL."""
    queue = arguments.queue
    celery = [sys.executable, "-m", "celery", "-A", "itsm"]
    started["worker"] = start(
        "worker",
        [*celery, "worker", "-Q", f"{queue},{queue}.clock,{queue}.webhooks", "--concurrency", "2",
         "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
        env=env, prefix=PREFIX,
    )  # fmt: skip
    started["beat"] = start(
        "beat",
        [*celery, "beat", "--loglevel", "WARNING", "--schedule", str(var_dir / "beat-schedule")],
        env=env,
        prefix=PREFIX,
    )
    port = free_port()
    command = server_command("itsm.wsgi:application", port, arguments)
    if arguments.server == "gunicorn":
        # Idle connections are kept longer than any user of the load waits between requests (6 s): with
        # gunicorn's default 2 s, a request sent just as the server closes an idle connection gets no answer.
        command += ["--keep-alive", "10"]
    started["web"] = start("web", command, env=env, prefix=PREFIX)
    wait_until_listening(port, started["web"], "web", prefix=PREFIX)
    return f"http://127.0.0.1:{port}"


def run_locust(arguments: argparse.Namespace, url: str, config_path: Path, started: dict[str, Any]) -> dict[str, float]:
    """Run the load; return the cores each component used meanwhile (bench/intake.py's reading of /proc)."""
    locust = shutil.which("locust", path=str(Path(sys.executable).parent)) or shutil.which("locust")
    if not locust:
        sys.exit("Locust is not installed: .venv/bin/pip install -r bench/requirements.txt")
    print(f"Locust: {arguments.users} users for {arguments.duration} s against {url} …", flush=True)
    started["locust"] = start(
        "locust",
        [locust, "-f", str(LOCUSTFILE), "--headless", "--host", url, "--users", str(arguments.users),
         "--spawn-rate", str(arguments.spawn_rate), "--run-time", f"{arguments.duration}s", "--stop-timeout", "30",
         "--csv", str(LOGS / "load"), "--only-summary", "--loglevel", "WARNING"],
        env={**os.environ, "LOAD_CONFIG": str(config_path)}, prefix=PREFIX,
    )  # fmt: skip
    roots = {"web": [started["web"].pid], "celery": [started["worker"].pid, started["beat"].pid]}
    before = take_snapshot(roots)
    started["locust"].wait(timeout=arguments.duration + 120)
    # Locust, once waited for, is the child process whose CPU intake.py calls wrk's.
    return {
        ("locust" if name == "wrk" else name): cores for name, cores in cores_used(before, take_snapshot(roots)).items()
    }


def highest_ids() -> tuple[int, int]:
    """The highest incident and alert event ids so far (the demo data's), so the books leave them out."""
    from django.db.models import Max

    from incidents.models import AlertEvent, Incident

    incident = Incident.objects.aggregate(top=Max("pk"))["top"] or 0
    return incident, AlertEvent.objects.aggregate(top=Max("pk"))["top"] or 0


def drain(arguments: argparse.Namespace) -> float:
    """Wait until no alert event is pending and the broker's queues are empty; return how long it took."""
    import redis

    from incidents.models import AlertEvent

    broker = redis.Redis.from_url(arguments.redis)
    queues = [arguments.queue, f"{arguments.queue}.clock", f"{arguments.queue}.webhooks"]
    began = time.monotonic()
    quiet_since = None
    while time.monotonic() - began < arguments.drain_timeout:
        idle = not AlertEvent.objects.filter(processed_at=None).exists() and not sum(map(broker.llen, queues))
        quiet_since = (quiet_since or time.monotonic()) if idle else None
        if quiet_since and time.monotonic() - quiet_since >= 3:
            return quiet_since - began
        time.sleep(0.5)
    print(f"the worker did not drain within {arguments.drain_timeout} s", file=sys.stderr)
    return float("nan")


def read_stats() -> list[dict[str, str]]:
    path = LOGS / "load_stats.csv"
    if not path.exists():
        return []
    with path.open() as stats:
        return list(csv.DictReader(stats))


def report(stats: list[dict[str, str]], statuses: dict[str, dict[str, int]], books: list[tuple[bool, str]]) -> int:
    """Print the figures and the books; return how many 5xx answers there were."""
    total = sum(sum(count for code, count in codes.items() if code.isdigit()) for codes in statuses.values())
    failed = sum(codes.get("failed", 0) for codes in statuses.values())
    server_errors = sum(
        count for codes in statuses.values() for code, count in codes.items() if code.isdigit() and code >= "500"
    )
    aggregated = next((row for row in stats if row["Name"] == "Aggregated"), None)
    print(f"\nrequests: {total:,}; failed: {failed:,} ({failed / max(total, 1):.3%}); 5xx: {server_errors:,}")
    if aggregated:
        print(f"throughput: {float(aggregated['Requests/s']):,.1f} requests/s")
    print("\n| request | count | req/s | p50 | p95 | p99 | max | failed | statuses |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in stats:
        codes = statuses.get(row["Name"], {})
        shown = ", ".join(f"{count:,}×{code}" for code, count in sorted(codes.items()) if code.isdigit())
        # Counted as the requests ended (Locust's CSV is written before the last ones, let finish, return).
        count = sum(number for code, number in codes.items() if code.isdigit()) or int(row["Request Count"])
        print(
            f"| {row['Name']} | {count:,} | {float(row['Requests/s']):.1f} | {row['50%']} ms "
            f"| {row['95%']} ms | {row['99%']} ms | {float(row['Max Response Time']):.0f} ms "
            f"| {int(row['Failure Count']):,} | {shown} |"
        )
    if books:
        print("\nThe books:\n")
        for passed, text in books:
            print(f"- {'ok' if passed else 'WRONG'}: {text}")
    return server_errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=600, help="seconds of load (default 600)")
    parser.add_argument("--users", type=int, default=40, help="Locust users")
    parser.add_argument("--spawn-rate", type=float, default=4, help="users started a second")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--database", default="itsm_load", help="the run's database (dropped and made again)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/5", help="a Redis database of its own (emptied)")
    parser.add_argument("--queue", default="q-load", help="the Celery queue name of the run")
    parser.add_argument("--workers", type=int, default=2, help="the server's worker processes")
    parser.add_argument("--threads", type=int, default=4, help="the server's threads per worker")
    parser.add_argument("--server", choices=["granian", "gunicorn"], default="granian", help="the WSGI server")
    parser.add_argument("--accounts", type=int, default=12, help="agents with tokens, and UI managers, for the load")
    parser.add_argument("--pagerduty-keys", type=int, default=200, help="PagerDuty dedup keys at the start")
    parser.add_argument("--alert-groups", type=int, default=40, help="Alertmanager groups (1 to 3 alerts each)")
    parser.add_argument("--drain-timeout", type=int, default=300, help="seconds to wait for the worker afterwards")
    arguments = parser.parse_args()

    LOGS.mkdir(parents=True, exist_ok=True)
    for old in LOGS.glob("load[-_]*"):  # the last run's record, statuses, CSV and logs
        old.unlink()
    var_dir = Path(tempfile.mkdtemp(prefix="itsm-load-"))
    (var_dir / "static").mkdir()
    env = settings_for(arguments, var_dir)
    OUR_DATABASES.add(arguments.database)
    started: dict[str, subprocess.Popen[bytes]] = {}
    # SIGTERM ends the run as Ctrl-C does: through the `finally` that stops what was started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    django_ready = False
    try:
        config = prepare(arguments, env, var_dir)
        django_ready = True
        config_path = var_dir / "config.json"
        config_path.write_text(json.dumps(config))
        url = serve(arguments, env, var_dir, started)
        setup = (
            f"{code_version()}; {os.cpu_count()} cores; {server_settings(arguments.postgres.rstrip('/'))}; "
            f"{server_label(arguments)}; worker concurrency 2 and beat; "
            f"{arguments.users} users; {arguments.duration} s; load average before: {os.getloadavg()[0]:.2f}"
        )
        print(setup, flush=True)
        before = highest_ids()
        cores = run_locust(arguments, url, config_path, started)
        print("cores used during the load: " + ", ".join(f"{name} {used:.2f}" for name, used in cores.items()))
        load_after = os.getloadavg()
        drained = drain(arguments)
        print(f"worker drained {drained:.1f} s after Locust stopped; load average 1/5/15 min at the end "
              f"of the load: {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}")  # fmt: skip
        books = check_books(read_record(Path(config["record"])), before=before)
    finally:
        for process in reversed(started.values()):
            stop(process)
        if django_ready:
            from django.db import connections

            connections.close_all()
        try:
            import redis

            redis.Redis.from_url(arguments.redis).flushdb()
        except Exception as error:  # the run's own result matters more than the cleaning
            print(f"could not empty {arguments.redis}: {error}", file=sys.stderr)
        shutil.rmtree(var_dir, ignore_errors=True)
    statuses_path = Path(config["statuses"])
    if not statuses_path.exists():
        sys.exit("Locust wrote no statuses; see var/bench/load-locust.log")
    server_errors = report(read_stats(), json.loads(statuses_path.read_text()), books)
    if server_errors or not all(passed for passed, _ in books):
        sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted: every process the run started is stopped")
