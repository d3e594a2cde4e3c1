"""Who is responding to an incident: the one place that answers it.

Recurrence notices and anything else meant for "the people on this
incident" ask `responders`, so adding a kind of responder (response-team
roles, say) is a change here and nowhere else.
"""

from django.contrib.auth.models import User

from escalation.models import Notification, NotificationKind
from incidents.models import Incident, ResponseRole


def responders(incident: Incident) -> list[User]:
    """The incident's assignee, its commander, its response team, then everyone already paged for it:
    active, each once, in that order."""
    people: dict[int, User] = {}
    for person in (incident.assignee, incident.commander):
        if person is not None:
            people.setdefault(person.pk, person)
    team = ResponseRole.objects.filter(incident=incident, ended_at__isnull=True).select_related("user").order_by("pk")
    for role in team:
        people.setdefault(role.user.pk, role.user)
    pages = Notification.objects.filter(incident=incident, kind=NotificationKind.PAGE, user__isnull=False)
    paged = User.objects.filter(pk__in=pages.values("user_id")).exclude(pk__in=list(people)).order_by("pk")
    for person in paged:
        people.setdefault(person.pk, person)
    return [person for person in people.values() if person.is_active]
