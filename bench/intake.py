"""Alert intake under load: events per second and latency, beside bare Django doing one INSERT.

    .venv/bin/python bench/intake.py --duration 30 --connections 32 --keys 500

1. Make two fresh databases on the PostgreSQL server (`--postgres`):
   `itsm_bench_baseline` for the yardstick in `bench/baseline/` (one ORM
   INSERT per request) and `itsm_bench_intake` for the product, migrated, with
   a service and a PagerDuty integration without a rate limit, made through the
   product's own commands.
2. Serve both with granian, the product's server (or, with `--server gunicorn`,
   gunicorn, the one it had before), the same configuration for each, and
   start the product's Celery worker (default and clock queues, one process)
   and beat, as production runs them.
3. Load them with wrk, one after the other, with the same PagerDuty Events
   API v2 events: a warm-up; `--duration` seconds as fast as `--connections`
   connections go (throughput); then `--duration` seconds paced at `--rate`
   events a second (latency at the target's rate rather than at saturation).
   Each event's dedup_key is one of `--keys`; a share `--resolve-share` of
   them are resolves. Before each measured load, wait for the rest of the
   machine to fall quiet; CPU used during it is read from /proc, per component.
4. After each load on the product, time how long the worker takes to process
   what is still pending.
5. Check the product's books: nothing pending, nothing failed, every accepted
   request stored, and exactly the outcomes (incidents opened, repeats,
   resolves) the events call for in the order processed (`expected_outcomes`).
6. Stop every process and drop both databases, whatever happened; print the
   figures as Markdown. Logs stay in var/bench/intake-*.log.

With `--py-spy PATH`, the product's web and Celery workers are sampled during
its fastest load and the frames that use the CPU are printed; py-spy takes CPU
of its own, so quote the figures of a run without it.
"""

import argparse
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BASELINE_DIR = ROOT / "bench" / "baseline"
LOGS = ROOT / "var" / "bench"
ENQUEUE_PATH = "/api/v1/integrations/pagerduty/enqueue"
FIRED_AT = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
BASELINE_DATABASE = "itsm_bench_baseline"
INTAKE_DATABASE = "itsm_bench_intake"
# Databases whose PostgreSQL backends count as ours in the CPU figures (bench/load.py adds its own).
OUR_DATABASES = {BASELINE_DATABASE, INTAKE_DATABASE}

# The load: PagerDuty Events API v2 events, as a monitoring tool sends them.
# Each key keeps its own summary, source, severity, details and timestamp (the
# moment the problem began), so a repeat says what the alert already said, as a
# tool re-notifying a firing alert or retrying a send does. (A timestamp that
# moved with each send would make every repeat news: a re-fire on the timeline.)
LOAD_SCRIPT = string.Template(r"""
local ROUTING_KEY = "$routing_key"
local KEYS = $keys
local RESOLVE_SHARE = $resolve_share
local RATE = $rate
local PATH = "$path"
local FIRED_AT = "$fired_at"

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

statuses = {}
local headers = {["Content-Type"] = "application/json"}
local severities = {"critical", "error", "warning", "info"}

function init(args)
  math.randomseed(os.time() * 100 + thread_number)
end

function request()
  local n = math.random(KEYS)
  local key = string.format("bench-%05d", n)
  local body
  if math.random() < RESOLVE_SHARE then
    body = string.format('{"routing_key":"%s","event_action":"resolve","dedup_key":"%s"}', ROUTING_KEY, key)
  else
    body = string.format('{"routing_key":"%s","event_action":"trigger","dedup_key":"%s","payload":{'
      .. '"summary":"Disk almost full on db-%d","source":"db-%d.bench.example","severity":"%s",'
      .. '"timestamp":"%s","custom_details":{"mount":"/var/lib/postgresql","threshold_percent":90}}}',
      ROUTING_KEY, key, n, n, severities[n % 4 + 1], FIRED_AT)
  end
  return wrk.format("POST", PATH, headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

if RATE > 0 then
  -- Pace each thread to its share of the rate: the k-th request of a thread
  -- is due at start + k / share, whichever connection is free to send it.
  local ffi = require("ffi")
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clock, bench_timespec *now);
  ]]
  local now_spec = ffi.new("bench_timespec")
  local function now()
    ffi.C.clock_gettime(1, now_spec)  -- CLOCK_MONOTONIC
    return tonumber(now_spec.tv_sec) + tonumber(now_spec.tv_nsec) / 1e9
  end
  local next_due = nil
  function delay()
    local t = now()
    next_due = (next_due or t) + $threads / RATE
    local wait = (next_due - t) * 1000
    if wait < 0 then return 0 end
    return math.floor(wait)
  end
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses") or {}) do
      counts[code] = (counts[code] or 0) + count
    end
  end
  local parts = {}
  for code, count in pairs(counts) do
    table.insert(parts, string.format('"%d":%d', code, count))
  end
  local e = summary.errors
  io.write(string.format('BENCH-RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,'
    .. '"p99_us":%d,"max_us":%d,"socket_errors":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect + e.read + e.write + e.timeout, table.concat(parts, ",")))
end
""")


@dataclass
class Load:
    """What wrk saw in one run."""

    target: str
    phase: str
    seconds: float
    requests: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    statuses: dict[int, int]
    cores: dict[str, float] = field(default_factory=dict)
    disturbed: bool = False  # other work on the machine took CPU meanwhile, and the load was run again
    round: int = 1

    @property
    def accepted(self) -> int:
        return self.statuses.get(202, 0)

    @property
    def rejected(self) -> int:
        return self.requests - self.accepted

    @property
    def per_second(self) -> float:
        return self.accepted / self.seconds


@dataclass
class Drain:
    """How long the worker took, after a load, to process what was still pending."""

    phase: str
    backlog: int
    seconds: float
    load: Load | None = None


# --- Processes -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(
    name: str, command: list[str], *, env: dict[str, str], cwd: Path = ROOT, prefix: str = "intake"
) -> subprocess.Popen[bytes]:
    """Start a process in a group of its own (so it is stopped whole), its output in var/bench/<prefix>-<name>.log."""
    with (LOGS / f"{prefix}-{name}.log").open("wb") as log:
        return subprocess.Popen(  # noqa: S603 — our own interpreter, the web server and celery
            command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_until_listening(
    port: int, process: subprocess.Popen[bytes], name: str, timeout: float = 60, prefix: str = "intake"
) -> None:
    """Wait for the server started as `name` (see `start`) to accept connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{name} stopped at start; see var/bench/{prefix}-{name}.log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{name} is not listening on port {port} after {timeout:.0f} s")


def server_command(app: str, port: int, arguments: argparse.Namespace) -> list[str]:
    """The one server configuration both targets get: granian, as the product ships, unless `--server gunicorn`.

    2 processes of 4 threads on 2 cores (`--workers`, `--threads`), as the image
    ships: a request spends part of its time waiting on PostgreSQL's commit
    (and for the product, Redis), and the other threads keep the core busy
    meanwhile. Both servers
    keep connections open between requests, as a monitoring tool's HTTP client
    or a reverse proxy does (gunicorn through its gthread workers; its sync
    workers would close each one and make a loopback load partly a measure of
    TCP handshakes). No access log for either target: the baseline has none.
    """
    if getattr(arguments, "server", "granian") == "granian":
        return [
            sys.executable, "-m", "granian", app, "--interface", "wsgi",
            "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(arguments.workers), "--blocking-threads", str(arguments.threads),
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    return [
        sys.executable, "-m", "gunicorn", app,
        "--bind", f"127.0.0.1:{port}",
        "--worker-class", "gthread", "--workers", str(arguments.workers), "--threads", str(arguments.threads),
        "--error-logfile", "-", "--log-level", "warning",
    ]  # fmt: skip


def server_label(arguments: argparse.Namespace) -> str:
    if getattr(arguments, "server", "granian") == "granian":
        return f"granian (WSGI) {arguments.workers} processes × {arguments.threads} blocking threads"
    return f"gunicorn gthread {arguments.workers}×{arguments.threads}"


# --- Where the CPU goes ----------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
COMPONENTS = ("web", "celery", "postgres", "redis", "wrk", "kernel", "others")
# Other work on the machine above this many cores disturbs a load: it is run again.
BUSY_CORES = 0.2


@dataclass
class Snapshot:
    """CPU seconds used so far: by each of our processes (pid → component, seconds), and by the whole machine."""

    ours: dict[int, tuple[str, float]]
    machine: float
    kernel: float  # interrupts and soft interrupts: mostly loopback networking, nobody's process
    children: float  # processes this one has waited for: wrk
    taken: float


def take_snapshot(roots: dict[str, list[int]]) -> Snapshot:
    """Read /proc: our process trees, PostgreSQL serving our databases (and its own helpers), Redis, the machine."""
    table: dict[int, tuple[int, str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        table[int(entry)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    component: dict[int, str] = {}
    for role, pids in roots.items():
        stack = list(pids)
        while stack:
            pid = stack.pop()
            component[pid] = role
            stack.extend(children.get(pid, []))
    for pid, (_, name, _) in table.items():
        if name.startswith("redis-server"):
            component[pid] = "redis"
        elif name == "postgres" and postgres_serves_us(pid):
            component[pid] = "postgres"
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open("/proc/stat") as stat_file:
        ticks = [int(value) for value in stat_file.readline().split()[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait
    return Snapshot(
        ours={pid: (role, table[pid][2]) for pid, role in component.items() if pid in table},
        machine=busy / CLOCK_TICKS,
        kernel=(ticks[5] + ticks[6]) / CLOCK_TICKS,
        children=usage.ru_utime + usage.ru_stime,
        taken=time.monotonic(),
    )


def postgres_serves_us(pid: int) -> bool:
    """A backend of one of our databases, or one of the server's own processes; not a backend of someone else's."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    # A backend's title is "postgres: [<cluster>:] <user> <database> <client> <state>", the client being
    # "host(port)" or "[local]"; the server's own processes (writers, autovacuum launcher) name no client.
    words = title.replace("\0", " ").split()
    for position, word in enumerate(words[1:], start=1):
        if word == "[local]" or word.endswith(")"):
            return words[position - 1] in OUR_DATABASES
    return True


def cores_used(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """Cores used by each component between two snapshots; `others` is the rest of the machine, kernel included."""
    wall = after.taken - before.taken
    seconds = dict.fromkeys(COMPONENTS, 0.0)
    for pid, (role, cpu) in after.ours.items():
        seconds[role] += cpu - before.ours.get(pid, (role, 0.0))[1]
    seconds["wrk"] = after.children - before.children
    seconds["kernel"] = after.kernel - before.kernel
    seconds["others"] = max(0.0, after.machine - before.machine - sum(seconds.values()))
    return {role: used / wall for role, used in seconds.items()}


def wait_for_quiet_machine(timeout: float) -> float:
    """Wait (up to `timeout`) until other work on the machine uses under BUSY_CORES; return what it used last."""
    deadline = time.monotonic() + timeout
    while True:
        before = take_snapshot({})
        time.sleep(1)
        others = cores_used(before, take_snapshot({}))["others"]
        if others < BUSY_CORES or time.monotonic() > deadline:
            return others
        print(f"  the machine is busy with something else ({others:.2f} cores); waiting …", flush=True)
        time.sleep(4)


# --- Profiles (optional: a profiled run's figures are not the ones to quote) --


def start_profiles(py_spy: str, processes: dict[str, subprocess.Popen[bytes]], seconds: int) -> dict[str, Path]:
    """Sample the web server's workers and the Celery worker with py-spy for `seconds`; return where each writes.

    Only samples of a thread holding the GIL count: this is where the Python
    CPU goes, not where requests wait (the CPU table says how busy PostgreSQL is).
    """
    outputs = {}
    for role in ("web", "celery"):
        outputs[role] = LOGS / f"intake-profile-{role}.txt"
        processes[f"py-spy {role}"] = start(
            f"py-spy-{role}",
            [py_spy, "record", "--pid", str(processes[role].pid), "--subprocesses", "--duration", str(seconds),
             "--rate", "100", "--nonblocking", "--gil", "--function", "--format", "raw", "--output", str(outputs[role])],
            env=dict(os.environ),
        )  # fmt: skip
    return outputs


# Frames every sample passes through, which say nothing about where the time goes.
PLUMBING = ("process ", "Thread", "_worker (concurrent", "_WorkItem", "<module>", "_run_", "main (", "Command.", "Context.",
            "Group.", "pass_context", "handle_preload", "worker (celery", "WorkController", "Blueprint", "StartStopStep",
            "ForkProcess", "Pool", "Popen", "AsynPool", "BaseProcess", "Worker.workloop", "Worker.__call__",
            "Arbiter", "Application.run", "BaseApplication", "run (gunicorn", "Worker.init_process",
            "ThreadWorker.init_process", "ThreadWorker.run", "_install_stack", "fast_trace_task")  # fmt: skip


def summarise_profile(role: str, path: Path, processes: dict[str, subprocess.Popen[bytes]]) -> None:
    """Print where the samples were: the frames most often on the stack (inclusive) and at its top (self)."""
    processes[f"py-spy {role}"].wait(timeout=60)
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, text = line.rpartition(" ")
        frames, samples = stack.split(";"), int(text)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if not total:
        print(f"\n{role}: no samples")
        return
    print(f"\n{role}: {total:,} samples of busy threads; frames on the stack (inclusive) and on top (self)\n")
    shown = [(frame, count) for frame, count in inclusive.most_common() if not frame.startswith(PLUMBING)][:30]
    for frame, count in shown:
        print(f"  {count / total:6.1%} {own[frame] / total:6.1%}  {frame}")
    print("  top by self:")
    for frame, count in own.most_common(15):
        print(f"  {inclusive[frame] / total:6.1%} {count / total:6.1%}  {frame}")


# --- The load --------------------------------------------------------------


def run_wrk(
    target: str,
    phase: str,
    url: str,
    script: Path,
    seconds: int,
    arguments: argparse.Namespace,
    roots: dict[str, list[int]],
) -> Load:
    before = take_snapshot(roots)
    completed = subprocess.run(  # noqa: S603 — wrk, found on PATH by the check at start
        [shutil.which("wrk") or "wrk", "--threads", str(arguments.wrk_threads), "--connections", str(arguments.connections),
         "--duration", f"{seconds}s", "--timeout", "10s", "--script", str(script), url],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    after = take_snapshot(roots)
    found = re.search(r"^BENCH-RESULT (\{.*\})$", completed.stdout, re.MULTILINE)
    if completed.returncode != 0 or not found:
        sys.exit(f"wrk failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}")
    result = json.loads(found.group(1))
    return Load(
        target=target,
        phase=phase,
        seconds=result["duration_us"] / 1e6,
        requests=result["requests"],
        p50_ms=result["p50_us"] / 1000,
        p90_ms=result["p90_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        max_ms=result["max_us"] / 1000,
        socket_errors=result["socket_errors"],
        statuses={int(code): count for code, count in result["statuses"].items()},
        cores=cores_used(before, after),
    )


def write_load_script(folder: Path, name: str, routing_key: str, rate: int, arguments: argparse.Namespace) -> Path:
    path = folder / f"{name}.lua"
    path.write_text(
        LOAD_SCRIPT.substitute(
            routing_key=routing_key,
            keys=arguments.keys,
            resolve_share=arguments.resolve_share,
            rate=rate,
            threads=arguments.wrk_threads,
            path=ENQUEUE_PATH,
            fired_at=FIRED_AT,
        )
    )
    return path


# --- Databases -------------------------------------------------------------


def recreate_database(server: str, name: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # our own fixed names
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(server: str, name: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_settings(server: str) -> str:
    with psycopg.connect(f"{server}/postgres") as connection:
        version = connection.execute("SHOW server_version").fetchone()
        commit = connection.execute("SHOW synchronous_commit").fetchone()
        fsync = connection.execute("SHOW fsync").fetchone()
    return f"PostgreSQL {version[0] if version else '?'} (synchronous_commit {commit and commit[0]}, fsync {fsync and fsync[0]})"


def code_version() -> str:
    """The commit measured, and whether the product's files differed from it (the benchmark's own do not count)."""
    git = shutil.which("git")
    if not git:
        return "commit unknown"
    commit = subprocess.run(  # noqa: S603 — read-only git commands
        [git, "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    changes = subprocess.run(  # noqa: S603
        [git, "--no-optional-locks", "status", "--porcelain", "--", ".", ":(exclude)bench"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    return f"commit {commit or '?'}{' with uncommitted changes' if changes else ''}"


def manage(*command: str, env: dict[str, str]) -> str:
    completed = subprocess.run(  # noqa: S603 — our own interpreter and manage.py
        [sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        sys.exit(f"manage.py {' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}")
    return completed.stdout


# --- The product's books ---------------------------------------------------


def expected_outcomes(events: Iterable[tuple[str, str]]) -> Counter[str]:
    """The outcomes the product owes for these (action, dedup_key) events, taken in the order it processed them.

    A key has at most one open alert, and (PagerDuty's way: the group is the
    key) its own incident. A trigger with no open alert opens an alert on a new
    incident; with one open, it is a repeat (the load repeats each key's
    content word for word). A resolve with an open alert resolves the alert
    and its incident; with none, it is dropped. So a key resolved and triggered
    again opens a second incident.
    """
    open_keys: set[str] = set()
    outcomes: Counter[str] = Counter()
    for action, key in events:
        if action == "trigger":
            outcomes["repeated" if key in open_keys else "opened"] += 1
            open_keys.add(key)
        elif action == "resolve":
            outcomes["resolved" if key in open_keys else "dropped"] += 1
            open_keys.discard(key)
    outcomes["still open"] = len(open_keys)
    return outcomes


def pending_events() -> int:
    from incidents.models import AlertEvent

    return AlertEvent.objects.filter(processed_at=None).count()


def wait_for_drain(phase: str, timeout: float) -> Drain:
    """From the end of a load, time how long until nothing is pending.

    wrk stops without waiting for the requests it has sent, so events keep
    arriving for a moment: the backlog is done once nothing is pending and no
    event has arrived for a second; its time is when nothing was pending first.
    """
    from django.db.models import Count, Q

    from incidents.models import AlertEvent

    started = time.monotonic()
    backlog, stored, arrived_at, empty_since = 0, -1, started, None
    while time.monotonic() - started < timeout:
        counts = AlertEvent.objects.aggregate(stored=Count("id"), pending=Count("id", filter=Q(processed_at=None)))
        now = time.monotonic()
        backlog = max(backlog, counts["pending"])
        if counts["stored"] != stored:
            stored, arrived_at = counts["stored"], now
        empty_since = (empty_since or now) if counts["pending"] == 0 else None
        if empty_since is not None and now - arrived_at >= 1:
            return Drain(phase=phase, backlog=backlog, seconds=empty_since - started)
        time.sleep(0.1)
    sys.exit(f"events still pending {timeout:.0f} s after the {phase} load; see var/bench/intake-worker.log")


def check_books(loads: list[Load], arguments: argparse.Namespace) -> list[str]:
    """Compare what the product stored and did with what it accepted; return the findings, one a line."""
    from incidents.choices import State
    from incidents.models import Alert, AlertEvent, Incident

    accepted = sum(load.accepted for load in loads)
    stored = AlertEvent.objects.count()
    # A request in flight when wrk stops is stored but not counted by wrk: at most one per connection.
    in_flight = arguments.connections * len(loads)
    # The processor takes pending events by id in batches, each batch stamped with its own time.
    events = list(AlertEvent.objects.order_by("processed_at", "id").values_list("action", "dedup_key"))
    expected = expected_outcomes(events)
    outcomes = Counter(AlertEvent.objects.values_list("outcome", flat=True))
    incidents = Incident.objects.count()
    resolved = Incident.objects.filter(state=State.RESOLVED).count()
    keys = len({key for action, key in events if action == "trigger"})
    pending = pending_events()
    checks = [
        (f"events pending: {pending}", pending == 0),
        (f"events failed: {outcomes.get('failed', 0)}", not outcomes.get("failed")),
        (
            f"events stored: {stored:,} for {accepted:,} requests answered 202 "
            f"(up to {in_flight} more may have been in flight when wrk stopped)",
            accepted <= stored <= accepted + in_flight,
        ),
        (
            f"incidents opened: {incidents:,} (alerts: {Alert.objects.count():,}) for {keys} keys triggered; "
            f"the events, in the order processed, call for {expected['opened']:,}",
            incidents == Alert.objects.count() == expected["opened"],
        ),
        (
            f"incidents resolved by a resolve event: {resolved:,} of {expected['resolved']:,} called for; "
            f"{incidents - resolved:,} still open, {expected['still open']:,} called for",
            resolved == expected["resolved"] and incidents - resolved == expected["still open"],
        ),
        (
            "outcomes: "
            + ", ".join(f"{name or '(none)'} {count:,}" for name, count in sorted(outcomes.items()))
            + " — called for: "
            + ", ".join(f"{name} {count:,}" for name, count in sorted(expected.items()) if name != "still open"),
            all(outcomes.get(name, 0) == expected[name] for name in ("opened", "repeated", "resolved", "dropped")),
        ),
    ]
    return [f"- {'ok' if passed else 'WRONG'}: {text}" for text, passed in checks]


# --- Report ----------------------------------------------------------------


def report(loads: list[Load], drains: list[Drain], books: list[str], setup: str) -> None:
    print(f"\n{setup}")
    rounds = max((load.round for load in loads), default=1)

    def named(load: Load) -> str:
        return f"{load.phase}, round {load.round}" if rounds > 1 else load.phase

    baseline = {(load.phase, load.round): load for load in loads if load.target == "baseline"}
    print("\n| target | load | events/s | p50 | p90 | p99 | max | ratio to baseline | non-202 | socket errors |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for load in loads:
        yardstick = baseline.get((load.phase, load.round))
        ratio = f"{load.per_second / yardstick.per_second:.2f}" if yardstick and load.target != "baseline" else "—"
        others = ", ".join(f"{count:,}×{code}" for code, count in sorted(load.statuses.items()) if code != 202)
        print(
            f"| {load.target} | {named(load)} | {load.per_second:,.0f} | {load.p50_ms:.1f} ms | {load.p90_ms:.1f} ms "
            f"| {load.p99_ms:.1f} ms | {load.max_ms:.0f} ms | {ratio} | {load.rejected:,}{f' ({others})' if others else ''} "
            f"| {load.socket_errors:,} |"
        )
    if rounds > 1:
        print(f"\nMedians of the {rounds} rounds:\n")
        for phase in dict.fromkeys(load.phase for load in loads):
            for target in dict.fromkeys(load.target for load in loads):
                runs = [load for load in loads if load.phase == phase and load.target == target]
                line = (
                    f"- {target}, {phase}: {statistics.median(load.per_second for load in runs):,.0f} events/s, "
                    f"p50 {statistics.median(load.p50_ms for load in runs):.1f} ms, "
                    f"p99 {statistics.median(load.p99_ms for load in runs):.1f} ms"
                )
                if target != "baseline" and all((load.phase, load.round) in baseline for load in runs):
                    ratios = [load.per_second / baseline[(load.phase, load.round)].per_second for load in runs]
                    line += f", {statistics.median(ratios):.2f} of the baseline"
                print(line)
    print("\nCPU used during each load, in cores of the machine's 2, and per event accepted:\n")
    print("| target | load | " + " | ".join(COMPONENTS) + " | CPU per event, ours without wrk |")
    print("|---|---|" + "---|" * (len(COMPONENTS) + 1))
    for load in loads:
        cells = [f"{load.cores.get(name, 0):.2f}" for name in COMPONENTS]
        serving = sum(cores for name, cores in load.cores.items() if name not in ("wrk", "kernel", "others"))
        print(
            f"| {load.target} | {named(load)} | "
            + " | ".join(cells)
            + f" | {serving * 1000 / load.per_second:.2f} ms |"
        )
    if drains:
        print()
    for drain in drains:
        rate = f" ({drain.backlog / drain.seconds:,.0f} events/s)" if drain.seconds > 0.5 else ""
        line = f"- after the {drain.phase} load: {drain.backlog:,} events pending, processed in {drain.seconds:.1f} s{rate}"
        if drain.load:
            # What the whole product sustained: every event accepted and processed.
            end_to_end = drain.load.accepted / (drain.load.seconds + drain.seconds)
            line += f"; accepted and processed end to end: {end_to_end:,.0f} events/s"
        print(line)
    if books:
        print("\nThe product's books after all loads:\n")
        print("\n".join(books))


def prepare_baseline(server: str) -> dict[str, str]:
    recreate_database(server, BASELINE_DATABASE)
    env = {**os.environ, "DATABASE_URL": f"{server}/{BASELINE_DATABASE}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run([sys.executable, "baseline.py", "setup"], cwd=BASELINE_DIR, env=env, check=True)  # noqa: S603
    return env


def product_env(database_url: str, redis_url: str, queue: str, var_dir: Path) -> dict[str, str]:
    """The environment the product's processes run with in a bench: production settings on loopback."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_QUEUE": queue,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "ITSM_VAR_DIR": str(var_dir),
        "STATIC_ROOT": str(var_dir / "static"),
        "EMAIL_URL": "dummymail://",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "itsm.settings",
    }


def prepare_intake(server: str, var_dir: Path, arguments: argparse.Namespace) -> tuple[dict[str, str], str]:
    """Migrate a fresh database, make the service and its PagerDuty integration; return the settings and the key."""
    import redis

    recreate_database(server, INTAKE_DATABASE)
    redis.Redis.from_url(arguments.redis).flushdb()
    (var_dir / "static").mkdir()
    env = product_env(f"{server}/{INTAKE_DATABASE}", arguments.redis, f"bench-intake-{os.getpid()}", var_dir)
    print("migrating the intake's database …", flush=True)
    manage("migrate", "--noinput", env=env)
    service = (
        "from incidents.models import Service; Service.objects.get_or_create(slug='bench', defaults={'name': 'Bench'})"
    )
    manage("shell", "-c", service, env=env)
    made = manage("create_integration", "bench", "pagerduty", "--rate-limit", "0", env=env)
    routing_key = made.strip().splitlines()[-1].strip() if made.strip() else ""
    if not re.fullmatch(r"[0-9a-f]{32}", routing_key):
        sys.exit(f"create_integration did not end with a routing key:\n{made}")
    return env, routing_key


def serve(
    target: str,
    env: dict[str, str],
    var_dir: Path,
    arguments: argparse.Namespace,
    started: dict[str, subprocess.Popen[bytes]],
) -> str:
    """Start the web server (and for the product its Celery worker and beat) into `started`, by role; return the URL."""
    port = free_port()
    if target == "baseline":
        started["web"] = start(
            "baseline-web", server_command("baseline:application", port, arguments), env=env, cwd=BASELINE_DIR
        )
    else:
        queue = env["CELERY_QUEUE"]
        started["celery"] = start(
            "worker",
            [sys.executable, "-m", "celery", "-A", "itsm", "worker", "-Q", f"{queue},{queue}.clock",
             "--concurrency", "1", "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
            env=env,
        )  # fmt: skip
        started["beat"] = start(
            "beat",
            [sys.executable, "-m", "celery", "-A", "itsm", "beat", "--loglevel", "WARNING",
             "--schedule", str(var_dir / "beat-schedule")],
            env=env,
        )  # fmt: skip
        started["web"] = start("web", server_command("itsm.wsgi:application", port, arguments), env=env)
    wait_until_listening(port, started["web"], "baseline-web" if target == "baseline" else "web")
    return f"http://127.0.0.1:{port}{ENQUEUE_PATH}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=30, help="seconds of each measured load")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of load before measuring")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--rate", type=int, default=1000, help="events a second of the paced load (0: none)")
    parser.add_argument("--keys", type=int, default=500, help="distinct dedup keys")
    parser.add_argument("--resolve-share", type=float, default=0.01, help="share of events that are resolves")
    parser.add_argument("--workers", type=int, default=2, help="the server's worker processes")
    parser.add_argument("--threads", type=int, default=4, help="the server's threads per worker")
    parser.add_argument(
        "--server",
        choices=["granian", "gunicorn"],
        default="granian",
        help="the WSGI server of both targets: the product's (granian), or gunicorn (bench/requirements.txt)",
    )
    parser.add_argument("--drain-timeout", type=int, default=600, help="seconds to wait for the worker to catch up")
    parser.add_argument(
        "--quiet-timeout", type=int, default=120, help="seconds to wait for other work on the machine to stop"
    )
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13", help="a Redis database of its own (emptied)")
    parser.add_argument("--rounds", type=int, default=1, help="times to run the measured loads, the targets in turn")
    parser.add_argument(
        "--retries", type=int, default=3, help="times to run a load again when other work on the machine disturbed it"
    )
    parser.add_argument("--target", choices=["both", "baseline", "intake"], default="both")
    parser.add_argument(
        "--py-spy", metavar="PATH", help="profile the product's web and Celery workers during its fastest load"
    )
    arguments = parser.parse_args()

    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk (Debian's package).")
    if arguments.connections < arguments.wrk_threads:
        sys.exit("--connections must be at least --wrk-threads.")
    if not 0 <= arguments.resolve_share < 1:
        sys.exit("--resolve-share is a share: 0 ≤ it < 1.")
    server = arguments.postgres.rstrip("/")
    targets = ["baseline", "intake"] if arguments.target == "both" else [arguments.target]
    LOGS.mkdir(parents=True, exist_ok=True)
    var_dir = Path(tempfile.mkdtemp(prefix="itsm-bench-intake-"))
    processes: dict[str, dict[str, subprocess.Popen[bytes]]] = {}
    runs: list[Load] = []
    drains: list[Drain] = []
    books: list[str] = []
    setup = ""
    django_ready = False
    try:
        # 1. Databases, and the product's service and integration.
        envs: dict[str, dict[str, str]] = {}
        routing_key = secrets.token_hex(16)  # the baseline takes any key; the product's is made here
        if "baseline" in targets:
            envs["baseline"] = prepare_baseline(server)
        if "intake" in targets:
            envs["intake"], routing_key = prepare_intake(server, var_dir, arguments)
            os.environ.update(envs["intake"])
            sys.path.insert(0, str(ROOT))
            import django

            django.setup()
            django_ready = True

        # 2. Servers, the worker and beat.
        urls: dict[str, str] = {}
        scripts: dict[str, dict[str, Path]] = {}
        for target in targets:
            processes[target] = {}  # filled as they start, so that they are stopped whatever happens next
            urls[target] = serve(target, envs[target], var_dir, arguments, processes[target])
            saturated = write_load_script(var_dir, f"{target}-saturated", routing_key, 0, arguments)
            paced = write_load_script(var_dir, f"{target}-paced", routing_key, arguments.rate, arguments)
            scripts[target] = {"warm-up": saturated, "as fast as it goes": saturated, "paced": paced}
        setup = (
            f"{code_version()}; {os.cpu_count()} cores; {server_settings(server)}; "
            f"{server_label(arguments)}; wrk {arguments.wrk_threads} threads, {arguments.connections} connections; "
            f"{arguments.keys} keys, {arguments.resolve_share:.0%} resolves; {arguments.duration} s a load"
        )
        print(setup, flush=True)
        roots: dict[str, list[int]] = {}
        for started in processes.values():
            for role, process in started.items():
                roots.setdefault("web" if role == "web" else "celery", []).append(process.pid)

        # 3, 4. Each load on each target in turn; after each on the product, the worker catches up.
        schedule = [("warm-up", arguments.warmup, 0)]
        for round_number in range(1, arguments.rounds + 1):
            schedule.append(("as fast as it goes", arguments.duration, round_number))
            if arguments.rate:
                schedule.append(("paced", arguments.duration, round_number))
        for phase, seconds, round_number in schedule:
            for target in targets:
                name = f"paced at {arguments.rate:,}/s" if phase == "paced" else phase
                attempts = 1 + (arguments.retries if phase != "warm-up" else 0)
                for attempt in range(1, attempts + 1):
                    if phase != "warm-up":
                        wait_for_quiet_machine(arguments.quiet_timeout)
                    print(
                        f"{target}: {name} for {seconds} s{f' (round {round_number})' if round_number > 1 else ''} …",
                        flush=True,
                    )
                    profiling = arguments.py_spy and target == "intake" and phase == "as fast as it goes"
                    if profiling:
                        profiles = start_profiles(arguments.py_spy, processes[target], seconds)
                    load = run_wrk(target, name, urls[target], scripts[target][phase], seconds, arguments, roots)
                    load.round = round_number
                    runs.append(load)
                    if profiling:
                        for role, path in profiles.items():
                            summarise_profile(role, path, processes[target])
                    if target == "intake":
                        drains.append(wait_for_drain(name, arguments.drain_timeout))
                        drains[-1].load = load
                    if load.cores["others"] <= BUSY_CORES or profiling or attempt == attempts:
                        break
                    load.disturbed = True
                    print(f"  something else used {load.cores['others']:.2f} cores meanwhile; measuring again")

        # 5. The books.
        if "intake" in targets:
            books = check_books([run for run in runs if run.target == "intake"], arguments)
    finally:
        # 6. Stop everything and drop the databases, whatever happened.
        for started in processes.values():
            for process in started.values():
                stop(process)
        if django_ready:
            from django.db import connections

            connections.close_all()
        if "intake" in targets:
            import redis

            try:
                redis.Redis.from_url(arguments.redis).flushdb()
            except redis.RedisError as error:
                print(f"could not empty {arguments.redis}: {error}", file=sys.stderr)
        for name in (BASELINE_DATABASE, INTAKE_DATABASE):
            drop_database(server, name)
        shutil.rmtree(var_dir, ignore_errors=True)

    measured = [run for run in runs if run.phase != "warm-up" and not run.disturbed]
    kept = [drain for drain in drains if any(drain.load is run for run in measured)]
    report(measured, kept, books, setup)


if __name__ == "__main__":
    main()
