"""The incident CSV export over every incident in the database: rows a second and peak memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/itsm_bench .venv/bin/python bench/export_csv.py
    .venv/bin/python bench/export_csv.py --query "priority=P1&ordering=priority"

1. Fill the database first with `manage.py generate_incidents --count 1000000`;
   this script only reads it.
2. Run the export in a child process of its own, so its memory is the
   export's: the real view (`GET /api/v1/reports/incidents/csv/`, its filters
   and ordering, authentication and all) answering a superuser, its streamed
   body read to the end and counted, not kept.
3. Print one line: rows, megabytes, seconds, rows a second, how long the
   first bytes took (streamed from the database, not after the whole query),
   and the child's peak resident memory (the kernel's high-water mark,
   `ru_maxrss`) beside what it used before the export began. Constant memory means the peak
   does not grow with the number of rows: compare runs of different sizes
   (`--query "created_before=…"`).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parent.parent
CSV_PATH = "/api/v1/reports/incidents/csv/"


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itsm.settings")
    import django

    django.setup()


def _peak_kib() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def measure(query: str) -> dict[str, float]:
    """The child's part: export once, reading the streamed body as a client would."""
    _setup()
    from django.contrib.auth import get_user_model
    from django.http import StreamingHttpResponse
    from rest_framework.test import APIRequestFactory, force_authenticate

    from reports.exports.views import IncidentCsvView

    view = IncidentCsvView.as_view()
    reader = get_user_model()(username="bench-export", is_superuser=True, is_active=True)

    def export(query_string: str) -> tuple[int, int, float]:
        request = APIRequestFactory().get(CSV_PATH + ("?" + query_string if query_string else ""))
        force_authenticate(request, user=reader)
        response = view(request)
        if not isinstance(response, StreamingHttpResponse):
            response.render()  # an error: DRF's JSON
            raise SystemExit(f"the export answered {response.status_code}: {response.content[:300]!r}")
        rows = size = 0
        asked = time.perf_counter()
        first = 0.0
        for piece in cast(Iterator[bytes], response.streaming_content):
            first = first or time.perf_counter() - asked
            size += len(piece)
            rows += piece.count(b"\r\n")
        response.close()
        return rows - 1, size, first  # the header is not a row

    export("priority=P1&created_before=1970-01-02T00:00:00Z")  # warm: imports, the first query, the cache
    before = _peak_kib()
    started = time.perf_counter()
    rows, size, first = export(query)
    seconds = time.perf_counter() - started
    return {
        "rows": rows,
        "bytes": size,
        "seconds": seconds,
        "first_seconds": first,
        "before_kib": before,
        "peak_kib": _peak_kib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--query", default="", help="the export's query string (filters, ordering)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.query)))
        return
    child = subprocess.run(  # noqa: S603 — our own interpreter and this script
        [sys.executable, __file__, "--child", "--query", args.query],
        check=False,
        stdout=subprocess.PIPE,
        text=True,
    )
    if child.returncode:
        raise SystemExit(child.returncode)  # the child said why on stderr
    result = json.loads(child.stdout.strip().splitlines()[-1])
    rate = result["rows"] / result["seconds"] if result["seconds"] else 0.0
    print(
        f"csv export{' ?' + args.query if args.query else ''}: {result['rows']:,} rows, "
        f"{result['bytes'] / 1e6:,.1f} MB in {result['seconds']:.1f} s = {rate:,.0f} rows/s, "
        f"the first bytes after {result['first_seconds']:.2f} s; "
        f"peak RSS {result['peak_kib'] / 1024:,.1f} MiB "
        f"({result['before_kib'] / 1024:,.1f} MiB before the export)"
    )


if __name__ == "__main__":
    main()
