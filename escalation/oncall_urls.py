"""Routes of the on-call schedules: the API and the calendar feeds."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
