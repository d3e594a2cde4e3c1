"""Routes of the post-mortem API, under /api/v1/ (included from itsm/urls.py)."""

from django.urls import include, path, re_path
from rest_framework.routers import DefaultRouter

from incidents.api.postmortems import (
    ActionItemViewSet,
    PostMortemActionItemsView,
    PostMortemListViewSet,
    PostMortemMarkdownView,
    PostMortemMomentView,
    PostMortemRegenerateView,
    PostMortemReopenView,
    PostMortemTimelineView,
    PostMortemTransitionView,
    PostMortemView,
)

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("action-items", ActionItemViewSet, basename="action-item")
router.register("postmortems", PostMortemListViewSet, basename="postmortem")

# The incident's number as the incident API takes it: INC-12, inc-12 or 12.
INCIDENT = r"^incidents/(?P<number>[A-Za-z]{3}-[0-9]+|[0-9]+)/postmortem/"

urlpatterns = [
    re_path(INCIDENT + r"$", PostMortemView.as_view(), name="incident-postmortem"),
    re_path(
        INCIDENT + r"submit/$",
        PostMortemTransitionView.as_view(transition="submit"),
        name="incident-postmortem-submit",
    ),
    re_path(
        INCIDENT + r"return-to-draft/$",
        PostMortemTransitionView.as_view(transition="return_to_draft"),
        name="incident-postmortem-return-to-draft",
    ),
    re_path(
        INCIDENT + r"publish/$",
        PostMortemTransitionView.as_view(transition="publish"),
        name="incident-postmortem-publish",
    ),
    re_path(INCIDENT + r"reopen/$", PostMortemReopenView.as_view(), name="incident-postmortem-reopen"),
    re_path(INCIDENT + r"markdown/$", PostMortemMarkdownView.as_view(), name="incident-postmortem-markdown"),
    re_path(INCIDENT + r"timeline/$", PostMortemTimelineView.as_view(), name="incident-postmortem-timeline"),
    re_path(
        INCIDENT + r"timeline/regenerate/$",
        PostMortemRegenerateView.as_view(),
        name="incident-postmortem-timeline-regenerate",
    ),
    re_path(
        INCIDENT + r"timeline/(?P<moment_id>[0-9]+)/$",
        PostMortemMomentView.as_view(),
        name="incident-postmortem-moment",
    ),
    re_path(INCIDENT + r"action-items/$", PostMortemActionItemsView.as_view(), name="incident-postmortem-action-items"),
    path("", include(router.urls)),
]
