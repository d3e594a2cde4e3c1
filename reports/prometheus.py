"""`GET /metrics`: the product's state in Prometheus' text format, so teams graph it in their own tools.

Every figure is read from the database when Prometheus scrapes, not counted in
the process: each web process answers the same, and a restart loses nothing.
The counters are totals of rows that stay (incidents, SLA clocks, notifications)
or that are pruned after `INTAKE_EVENT_RETENTION_DAYS` (alert events), which
Prometheus reads as a counter reset; `rate()` and `increase()` handle both.

Four GROUP BY queries a scrape, whatever the number of rows. The endpoint is
off unless `METRICS_TOKEN` is set, and then asks for it as a bearer token.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from escalation.models import Notification, SlaClock
from escalation.models.notifications import NotificationKind
from escalation.models.sla import ClockKind
from incidents.choices import OPEN_STATES, Priority
from incidents.models import AlertEvent, Incident

# An alert event not processed yet has no outcome.
PENDING_OUTCOME = "pending"


class DatabaseCollector(Collector):
    """The metrics, read afresh on every `collect()`."""

    def collect(self) -> Iterator[Metric]:
        yield from self._incidents()
        yield self._sla_breaches()
        yield self._pages()
        yield self._alert_events()

    def _incidents(self) -> Iterator[Metric]:
        # One query for both: every incident by priority and state.
        rows = Incident.objects.order_by().values_list("priority", "state").annotate(n=Count("pk"))
        counts = {(priority, state): n for priority, state, n in rows}
        open_now = GaugeMetricFamily(
            "itsm_open_incidents", "Incidents not yet resolved, by priority and state.", labels=["priority", "state"]
        )
        # Every open combination is exposed, at zero too, so a graph's series do not come and go.
        for priority in Priority.values:
            for state in OPEN_STATES:
                open_now.add_metric([priority, str(state)], counts.get((priority, state), 0))
        yield open_now
        total = CounterMetricFamily(
            "itsm_incidents", "Incidents ever reported (cancelled ones included), by priority.", labels=["priority"]
        )
        for priority in Priority.values:
            total.add_metric([priority], sum(n for (p, _state), n in counts.items() if p == priority))
        yield total

    def _sla_breaches(self) -> Metric:
        rows = (
            SlaClock.objects.filter(breached_at__isnull=False)
            .order_by()
            .values_list("kind", "priority")
            .annotate(n=Count("pk"))
        )
        counts = {(kind, priority): n for kind, priority, n in rows}
        family = CounterMetricFamily(
            "itsm_sla_breaches", "SLA clocks that were breached, by clock and priority.", labels=["clock", "priority"]
        )
        for kind in ClockKind.values:
            for priority in Priority.values:
                family.add_metric([kind, priority], counts.get((kind, priority), 0))
        return family

    def _pages(self) -> Metric:
        rows = (
            Notification.objects.filter(kind=NotificationKind.PAGE)
            .order_by()
            .values_list("channel", "status")
            .annotate(n=Count("pk"))
        )
        family = CounterMetricFamily(
            "itsm_pages",
            "Pages to responders (one per contact method), by channel and delivery status.",
            labels=["channel", "status"],
        )
        for channel, status, n in sorted(rows):
            family.add_metric([channel, status], n)
        return family

    def _alert_events(self) -> Metric:
        rows = AlertEvent.objects.order_by().values_list("outcome").annotate(n=Count("pk"))
        family = CounterMetricFamily(
            "itsm_alert_events",
            "Events received by the alert intake and still kept, by what processing made of them.",
            labels=["outcome"],
        )
        for outcome, n in sorted(rows):
            family.add_metric([outcome or PENDING_OUTCOME], n)
        return family


def exposition() -> bytes:
    """The metrics in the text format, from a registry of their own (not the process's default one)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    return generate_latest(registry)


def _authorised(request: HttpRequest, token: str) -> bool:
    scheme, _space, given = request.headers.get("Authorization", "").partition(" ")
    # Compared in constant time, so the token cannot be guessed from response times.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """404 while METRICS_TOKEN is unset (as if there were no such page); 401 without the token."""
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    if not _authorised(request, token):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
