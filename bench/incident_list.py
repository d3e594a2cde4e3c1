"""The incident list, API and web queue, over a million incidents: latency per request and queries.

    DATABASE_URL=postgres://…/itsm_bench python bench/incident_list.py [--rounds 40] [--explain]

Fill the database first with `manage.py generate_incidents --count 1000000` (bench/README.md).
Each scenario is a list request a user or an integration makes every day: the first page,
filters, search, sorting, the pages after it. Requests go through Django's whole request
handling in this process (middleware, authentication, view, serializer or template; no
socket), as a token-holding integration for the API and a logged-in incident manager for the
queue. Each is sent `--rounds` times after two warm-ups; the script prints p50, p95 and the
slowest per scenario, the p95 over all API and all queue requests at the default page size (the
largest page, 200 rows, is its own line), and the number of queries each took. The query counts are also read at several page sizes, to show they do not grow
with the page. With `--explain`, the main statement of each API scenario is shown with
EXPLAIN (ANALYZE, BUFFERS).
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itsm.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

import django  # noqa: E402
from django.conf import settings  # noqa: E402

django.setup()
# Requests are made in this process: allow its host name, and serve static files unhashed
# (templates name them; the manifest exists only after collectstatic).
settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from escalation.models import Team  # noqa: E402
from incidents.models import Incident, Service  # noqa: E402
from incidents.roles import INCIDENT_MANAGER  # noqa: E402

USERNAME = "bench-lister"


def clients() -> tuple[Client, Client]:
    """A token client for the API and a logged-in session for the queue, both an incident manager."""
    user, _ = get_user_model().objects.get_or_create(username=USERNAME)
    user.groups.add(Group.objects.get(name=INCIDENT_MANAGER))
    token, _ = Token.objects.get_or_create(user=user)
    api = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    web = Client()
    web.force_login(user)
    return api, web


def scenarios() -> dict[str, list[tuple[str, str]]]:
    """(name, URL) per door, with filter values taken from the data itself."""
    service = Service.objects.order_by("pk").first()
    team = Team.objects.order_by("pk").first()
    assignee = Incident.objects.filter(assignee__isnull=False).order_by("-pk").values_list("assignee__username")[:1]
    who = assignee[0][0] if assignee else USERNAME
    week_ago = (timezone.now() - dt.timedelta(days=7)).replace(microsecond=0).isoformat()
    service_slug = service.slug if service else "none"
    team_slug = team.slug if team else "none"
    open_states = [("state", s) for s in ("new", "acknowledged", "investigating", "on_hold", "mitigated")]

    def api(**query: Any) -> str:
        pairs = [(k, v) for k, values in query.items() for v in (values if isinstance(values, list) else [values])]
        return "/api/v1/incidents/" + (f"?{urlencode(pairs)}" if pairs else "")

    def web(pairs: list[tuple[str, str]] | None = None) -> str:
        return "/" + (f"?{urlencode(pairs)}" if pairs else "")

    return {
        "api": [
            ("first page (50)", api()),
            ("page size 200", api(page_size=200)),
            ("open states", "/api/v1/incidents/?" + urlencode(open_states)),
            ("priority P1", api(priority="P1")),
            ("service", api(service=service_slug)),
            ("team + P2", api(team=team_slug, priority="P2")),
            ("assignee", api(assignee=who)),
            ("unassigned", api(assignee="none")),
            ("created in the last week", api(created_after=week_ago)),
            ("search words", api(q="certificate expired")),
            ("search number", api(q="INC-500000")),
            ("ordering priority", api(ordering="priority")),
            ("ordering -updated_at", api(ordering="-updated_at")),
            ("page 5 (cursor)", "cursor:5"),
        ],
        "queue": [
            ("first page (25)", web()),
            ("page 2", web([("page", "2")])),
            ("page 40", web([("page", "40")])),
            ("open states", web(open_states)),
            ("priority P1", web([("priority", "P1")])),
            ("service", web([("service", service_slug)])),
            ("team", web([("team", team_slug)])),
            ("mine", web([("scope", "mine")])),
            ("unassigned", web([("scope", "unassigned")])),
            ("breaching soon", web([("scope", "breaching")])),
            ("search words", web([("q", "certificate expired")])),
            ("sort priority", web([("sort", "priority")])),
            ("sort recently updated", web([("sort", "-updated_at")])),
            ("htmx refresh", "htmx:" + web()),
        ],
    }


def requester(client: Client, target: str) -> Callable[[], int]:
    """A function that makes the scenario's request once and returns its status."""
    if target.startswith("cursor:"):
        # The page an integration reaches by following `next` links from the first: found once,
        # then that page's own request is what is timed.
        url = "/api/v1/incidents/"
        for _ in range(int(target.split(":")[1]) - 1):
            url = client.get(url).json()["next"]
        return lambda: client.get(url).status_code
    if target.startswith("htmx:"):
        url = target.removeprefix("htmx:")
        return lambda: client.get(url, HTTP_HX_REQUEST="true").status_code
    return lambda: client.get(target).status_code


def measure(client: Client, target: str, rounds: int) -> tuple[list[float], int]:
    make = requester(client, target)
    for _ in range(2):
        status = make()
        if status != 200:
            sys.exit(f"{target} answered {status}")
    times = []
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            make()
            times.append((time.perf_counter() - started) * 1000)
    return times, len(queries)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def query_counts(api: Client) -> str:
    counts = []
    for size in (1, 10, 50, 200):
        with CaptureQueriesContext(connection) as queries:
            api.get(f"/api/v1/incidents/?page_size={size}")
        counts.append(f"{size}: {len(queries)}")
    return ", ".join(counts)


def explain(url: str) -> None:
    """EXPLAIN ANALYZE the slowest statement of one API request."""
    client, _ = clients()
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    slowest = max(queries.captured_queries, key=lambda q: float(q["time"]))
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + slowest["sql"])
        print("\n".join(f"    {row[0]}" for row in cursor.fetchall()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--only", choices=["api", "queue"], help="Only one door.")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each API scenario's main statement.")
    options = parser.parse_args()

    api, web = clients()
    print(f"{connection.vendor}: {Incident.objects.count():,} incidents")
    print(f"API queries by page size — {query_counts(api)}")
    for door, client in (("api", api), ("queue", web)):
        if options.only and door != options.only:
            continue
        every: list[float] = []
        print(f"\n| {door} scenario | p50 ms | p95 ms | max ms | queries |\n|---|---:|---:|---:|---:|")
        for name, target in scenarios()[door]:
            times, count = measure(client, target, options.rounds)
            if not name.startswith("page size"):  # the largest page is reported on its own line
                every += times
            print(
                f"| {name} | {statistics.median(times):.1f} | {percentile(times, 0.95):.1f} "
                f"| {max(times):.1f} | {count} |"
            )
            if options.explain and door == "api" and ":" not in target.split("?")[0]:
                explain(target)
        print(f"\n{door}: p95 over the {len(every)} requests at the default page size {percentile(every, 0.95):.1f} ms")


if __name__ == "__main__":
    main()
