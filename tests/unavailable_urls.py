"""URLs for tests/test_unavailable.py: a view that fails for a reason other than an outage."""

from django.http import HttpRequest, HttpResponse
from django.urls import path


def broken(request: HttpRequest) -> HttpResponse:
    raise ValueError("a bug, not an outage")


urlpatterns = [path("broken/", broken)]
handler500 = "itsm.unavailable.server_error"
