"""The post-mortem use cases.

For now a post-mortem is a summary that is drafted and then published; a P1
or P2 incident closes only once it is published (the `close` guard).
"""

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.choices import EntryKind, PostMortemStatus, Visibility
from incidents.lifecycle import MAX_TEXT_LENGTH
from incidents.models import Incident, PostMortem
from incidents.services import _text
from incidents.timeline import Actor, record_entry


def write_postmortem(*, incident: Incident, actor: Actor, summary: str, publish: bool = False) -> PostMortem:
    """Create or update the incident's post-mortem; `publish` makes it final."""
    if not actor.has_perm("incidents.change_postmortem"):
        raise PermissionDenied(_("You may not write post-mortems."))
    summary = _text(summary, "summary", required=publish, limit=MAX_TEXT_LENGTH * 5)
    with transaction.atomic():
        postmortem, _created = PostMortem.objects.select_for_update().get_or_create(incident=incident)
        was_published = postmortem.status == PostMortemStatus.PUBLISHED
        postmortem.summary = summary
        if publish and not was_published:
            postmortem.status = PostMortemStatus.PUBLISHED
            postmortem.published_at = timezone.now()
            postmortem.published_by = actor if isinstance(actor, User) else None
        postmortem._history_user = actor if isinstance(actor, User) else None  # type: ignore[attr-defined]
        postmortem.save()
        if publish and not was_published:
            record_entry(
                incident=incident,
                kind=EntryKind.STATUS_UPDATE,
                actor=actor,
                body=_("Post-mortem published."),
                visibility=Visibility.PUBLIC,
                data={"postmortem": "published"},
            )
    return postmortem
