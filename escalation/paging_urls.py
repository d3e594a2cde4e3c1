"""Routes of paging: acknowledging a page from the link in its message."""

from django.urls import URLPattern, path

from escalation.ack_links import acknowledge_from_link

urlpatterns: list[URLPattern] = [
    path("page/ack/<str:token>/", acknowledge_from_link, name="page-ack"),
]
