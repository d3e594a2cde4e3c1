"""Read queries about post-mortems and action items, shared by the API, the admin and the export.

Who reads what:
- a published post-mortem: everyone who may read post-mortems (reporters too);
- a draft or one in review: those who may write post-mortems, through its
  incident; in the cross-incident list, only the incident's responders
  (its assignee, commander, team members and the post-mortem's author);
- internal timeline rows: responders only, as on the incident's own timeline.
"""

import datetime as dt
import operator
from functools import reduce

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from escalation.models import Team
from incidents.choices import ACTION_ITEM_PENDING, PostMortemStatus, Visibility
from incidents.models import ActionItem, Incident, PostMortem, PostMortemMoment
from incidents.models.postmortems import WRITE_POSTMORTEM_PERMISSION
from incidents.timeline import Actor

INTERNAL_PERMISSION = "incidents.add_internal_note"
# PostgreSQL's text search configuration for post-mortems (stemming of English words).
SEARCH_CONFIG = "english"
SEARCH_FIELDS = ("summary", "root_cause", "lessons", "contributing_factors", "incident__title")
# PostgreSQL ranks a match in the title or summary above one in the root cause, and both above the rest.
SEARCH_WEIGHTS = {
    "incident__title": "A",
    "summary": "A",
    "root_cause": "B",
    "lessons": "C",
    "contributing_factors": "C",
}


def can_read_drafts(user: Actor) -> bool:
    return bool(user.has_perm(WRITE_POSTMORTEM_PERMISSION))


def postmortem_for(*, incident: Incident, viewer: Actor) -> PostMortem | None:
    """The incident's post-mortem if `viewer` may read it now, else None."""
    postmortem = (
        PostMortem.objects.select_related("incident", "author", "published_by")
        .prefetch_related("affected_services")
        .filter(incident=incident)
        .first()
    )
    if postmortem is None:
        return None
    if postmortem.status != PostMortemStatus.PUBLISHED and not can_read_drafts(viewer):
        return None
    return postmortem


def _responder_condition(user: Actor) -> Q:
    if not user.is_authenticated:
        return Q(pk__in=[])
    teams = Team.objects.filter(members=user).values("pk")
    return Q(author=user) | Q(incident__assignee=user) | Q(incident__commander=user) | Q(incident__team__in=teams)


def postmortem_list(*, viewer: Actor) -> QuerySet[PostMortem]:
    """The post-mortems the cross-incident list shows `viewer`: published ones, and drafts of their incidents."""
    visible = Q(status=PostMortemStatus.PUBLISHED)
    if can_read_drafts(viewer):
        visible |= _responder_condition(viewer)
    return (
        PostMortem.objects.filter(visible)
        .select_related("incident", "author", "published_by")
        .prefetch_related("affected_services")
    )


def search_postmortems(queryset: QuerySet[PostMortem], text: str) -> QuerySet[PostMortem]:
    """Post-mortems matching `text` in their summary, root cause, lessons, contributing factors or incident title.

    PostgreSQL: full-text search with stemming, best matches first (`rank`).
    Elsewhere (the embedded SQLite): every word must appear, in any of the fields.
    """
    text = text.strip()
    if not text:
        return queryset
    if connection.vendor == "postgresql":
        vector = reduce(
            operator.add,
            (SearchVector(field, config=SEARCH_CONFIG, weight=SEARCH_WEIGHTS[field]) for field in SEARCH_FIELDS),
        )
        query = SearchQuery(text, config=SEARCH_CONFIG, search_type="websearch")
        return (
            queryset.annotate(document=vector, rank=SearchRank(vector, query))
            .filter(document=query)
            .order_by("-rank", "-id")
        )
    for word in text.split():
        condition = Q()
        for field in SEARCH_FIELDS:
            condition |= Q(**{f"{field}__icontains": word})
        queryset = queryset.filter(condition)
    return queryset


def moments_for(*, postmortem: PostMortem, viewer: Actor) -> QuerySet[PostMortemMoment]:
    """The post-mortem's timeline, in order; internal rows only for responders."""
    moments = postmortem.moments.select_related("actor").order_by("occurred_at", "sequence", "id")
    if not viewer.has_perm(INTERNAL_PERMISSION):
        moments = moments.filter(visibility=Visibility.PUBLIC)
    return moments


def action_item_list() -> QuerySet[ActionItem]:
    return ActionItem.objects.select_related("incident", "postmortem", "owner", "created_by")


def overdue_condition(today: dt.date | None = None) -> Q:
    """Still open or in progress after the due date (dates in the server's time zone)."""
    return Q(status__in=ACTION_ITEM_PENDING, due_date__lt=today or timezone.localdate())
