"""Routes of verification and stakeholder updates, under /api/v1/ (see incidents/api/updates.py)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from incidents.api.updates import IncidentRecurrenceView, IncidentUpdatesView, MySubscriptionViewSet

NUMBER = "incidents/<str:number>"

router = SimpleRouter()
router.register("me/subscriptions", MySubscriptionViewSet, basename="my-subscription")

urlpatterns = [
    path(f"{NUMBER}/updates/", IncidentUpdatesView.as_view(), name="incident-updates"),
    path(f"{NUMBER}/recurrence/", IncidentRecurrenceView.as_view(), name="incident-recurrence"),
    path("", include(router.urls)),
]
