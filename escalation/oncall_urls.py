"""Routes of the on-call schedules: the API and the calendar feeds."""

from django.urls import URLPattern, path

from escalation import ical
from escalation.api.oncall import OnCallNowView, ScheduleShiftsView

urlpatterns: list[URLPattern] = [
    path("api/v1/oncall/", OnCallNowView.as_view(), name="oncall-now"),
    path("api/v1/oncall/schedules/<int:pk>/shifts/", ScheduleShiftsView.as_view(), name="oncall-shifts"),
    path("oncall/schedules/<str:feed_token>.ics", ical.schedule_feed, name="oncall-schedule-feed"),
    path("oncall/users/<str:feed_token>.ics", ical.user_feed, name="oncall-user-feed"),
]
