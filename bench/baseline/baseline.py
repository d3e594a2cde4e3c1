"""The yardstick for alert intake: bare Django, one ORM INSERT per request.

One file is the whole project: settings, one model, one view, its URL and the
WSGI application. It answers the intake's own path with the intake's own reply
and stores what the intake's request path stores (the key, the action, the
whole event as JSON, the time), so the same load can be pointed at either and
the difference is what the product adds: authentication, validation, rate
limiting, middleware and its wake-up of the worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/itsm_bench_baseline \
        python bench/baseline/baseline.py setup          # create the table
    DATABASE_URL=... granian --interface wsgi --working-dir bench/baseline baseline:application

Kept bare on purpose: no middleware, no authentication, no logging per request,
Django's defaults otherwise. Only one setting departs from them, as the
product's does: database connections persist (CONN_MAX_AGE 60), so neither
side pays for a new connection per request. The product also checks a reused
connection with a `SELECT 1` per request (CONN_HEALTH_CHECKS); that is one of
the things it adds, so the baseline does not.
"""

import json
import os
import sys

import django
import environ
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection, models
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils import timezone

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-baseline-only",  # noqa: S106 — serves loopback for a benchmark, nothing to protect
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    # The model names its app label itself; nothing else to install.
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
    DATABASES={
        "default": {
            **environ.Env.db_url_config(os.environ["DATABASE_URL"]),
            "CONN_MAX_AGE": 60,
        }
    },
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    USE_TZ=True,
    TIME_ZONE="UTC",
    LOGGING_CONFIG=None,
)
django.setup()


class RawEvent(models.Model):
    dedup_key = models.CharField(max_length=255)
    action = models.CharField(max_length=16)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)

    # Said aloud for the type checker, which knows only the product's installed apps.
    objects: "models.Manager[RawEvent]" = models.Manager()

    class Meta:
        app_label = "baseline"

    def __str__(self) -> str:
        return f"{self.action} {self.dedup_key}"


def enqueue(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return JsonResponse({"status": "invalid event", "message": "POST only"}, status=405)
    try:
        body = json.loads(request.body)
    except ValueError:
        return JsonResponse({"status": "invalid event", "message": "not JSON"}, status=400)
    if not isinstance(body, dict):
        return JsonResponse({"status": "invalid event", "message": "not an object"}, status=400)
    event = RawEvent.objects.create(
        dedup_key=str(body.get("dedup_key", ""))[:255],
        action=str(body.get("event_action", ""))[:16],
        payload=body,
    )
    return JsonResponse({"status": "success", "message": "Event processed", "dedup_key": event.dedup_key}, status=202)


urlpatterns = [path("api/v1/integrations/pagerduty/enqueue", enqueue)]

application = WSGIHandler()


if __name__ == "__main__":
    if sys.argv[1:] != ["setup"]:
        sys.exit(f"usage: DATABASE_URL=postgres://… {sys.argv[0]} setup")
    with connection.schema_editor() as editor:
        editor.create_model(RawEvent)
    print(f"created {RawEvent._meta.db_table}")
