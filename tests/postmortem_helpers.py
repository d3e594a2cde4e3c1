"""Helpers the post-mortem tests share: a published post-mortem in one call."""

from typing import Any

from incidents.models import Incident, PostMortem
from incidents.postmortems import publish_postmortem, submit_postmortem, write_postmortem


def published_postmortem(incident: Incident, *, author: Any, publisher: Any, **changes: Any) -> PostMortem:
    """Write the post-mortem as `author`, submit it, and publish it as `publisher` (an incident manager)."""
    changes.setdefault("summary", "What happened and why")
    changes.setdefault("root_cause", "A bad deploy")
    postmortem = write_postmortem(incident=incident, actor=author, changes=changes)
    postmortem = submit_postmortem(postmortem=postmortem, actor=author)
    return publish_postmortem(postmortem=postmortem, actor=publisher)
