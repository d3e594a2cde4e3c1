"""Wall and CPU time of the test suite, in one process and in parallel workers.

Runs `make test` once per worker count given, in the environment it is started in (so
DATABASE_URL/REDIS_URL choose the pass, as in .ci/run), and prints one line a run:

    .venv/bin/python bench/suite_time.py 0 3
    DATABASE_URL=postgres://… REDIS_URL=redis://…/15 ITSM_PAGES_IN_OTHER_PASS=1 .venv/bin/python bench/suite_time.py 0 3

A run that fails is reported as failed, with its last lines: a time is worth nothing without a green suite.
"""

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(workers: int, pytest_args: str) -> None:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 — make, from this repository
        [  # noqa: S607
            "make",
            "--no-print-directory",
            "test",
            f"TEST_WORKERS={workers}",
            f"PYTEST_ARGS=-q -p no:warnings {pytest_args}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    outcome = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
    print(f"workers={workers}: wall {wall / 60:.1f} min ({wall:.0f} s), cpu {cpu:.0f} s, {outcome}: {summary}")
    if result.returncode != 0:
        print("\n".join(result.stdout.splitlines()[-30:]), file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workers", nargs="+", type=int, help="worker counts to time (0: one process)")
    parser.add_argument("--pytest-args", default="", help="more pytest arguments, e.g. --deselect …")
    arguments = parser.parse_args()
    for workers in arguments.workers:
        run(workers, arguments.pytest_args)


if __name__ == "__main__":
    main()
