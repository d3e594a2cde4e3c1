"""The period summary over every incident in the database: how long `summarize` takes.

    DATABASE_URL=postgres://… python bench/report_summary.py [--rounds 5] [--days 730] [--compare]

Fill the database first with `manage.py generate_incidents --count 1000000` (bench/README.md).
The period is the last DAYS days, which with the generator's default spread covers every
generated incident. Prints each round's time and the median; the first round warms caches.

The ended months are read from their roll-ups where those are built and current
(`manage.py refresh_report_facts --rollups-only`, or beat's run every 15 minutes);
`--without-rollups` computes everything from the facts, as a summary does when none are.
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import time
import zoneinfo
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itsm.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from incidents.models import Incident  # noqa: E402
from reports import rollups  # noqa: E402
from reports.filters import ReportFilters  # noqa: E402
from reports.metrics import _Plan, summarize  # noqa: E402
from reports.periods import Period  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--days", type=int, default=731)
    parser.add_argument("--compare", action="store_true", help="Also the previous period (the dashboard's view).")
    parser.add_argument("--service", action="append", default=[], help="Narrow to a service slug.")
    parser.add_argument("--explain", action="store_true", help="Print each query's time.")
    parser.add_argument("--without-rollups", action="store_true", help="Read no monthly roll-up: the facts only.")
    options = parser.parse_args()
    if options.without_rollups:
        rollups.valid = lambda months: []

    zone = zoneinfo.ZoneInfo("UTC")
    today = dt.datetime.now(zone).date()
    period = Period(today - dt.timedelta(days=options.days - 1), today, zone)
    filters = ReportFilters.of(services=options.service)
    incidents = Incident.objects.count()
    rolled = _Plan.of(period, filters).months
    print(
        f"{connection.vendor}: {incidents:,} incidents; period {period.start} – {period.end}; "
        f"{len(rolled)} months read from roll-ups, the rest of the period from the facts"
    )
    times = []
    for round_number in range(options.rounds):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            summary = summarize(period, filters, compare=options.compare)
            times.append(time.perf_counter() - started)
        print(
            f"round {round_number + 1}: {times[-1] * 1000:,.0f} ms, {len(queries)} queries, {summary.total:,} in the cohort"
        )
        if options.explain and round_number == options.rounds - 1:
            for query in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:10]:
                print(f"  {float(query['time']) * 1000:7.0f} ms  {query['sql'][:150]}")
    warm = times[1:] or times
    print(
        f"summary: median {statistics.median(warm) * 1000:,.0f} ms, best {min(warm) * 1000:,.0f} ms over {len(warm)} warm rounds"
    )


if __name__ == "__main__":
    main()
