"""Routes of paging: acknowledging a page from the link in its message."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
