"""Answers for URLs that match nothing: JSON under /api/, the usual page elsewhere.

An API client that sends an id the URL patterns do not accept (a word where a
number goes) gets the same JSON 404 as for an unknown object, not an HTML page.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.defaults import page_not_found


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return page_not_found(request, exception)
