"""The role groups of DESIGN.md and the permissions each one holds.

The groups are kept in step with this table after every `migrate`, so a new
installation, the test database and an upgraded one all agree. Admins change
a group's rights in the admin; the next migrate restores the designed ones.
"""

import logging
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

logger = logging.getLogger(__name__)

REPORTER = "reporter"
AGENT = "agent"
INCIDENT_MANAGER = "incident_manager"

_REPORTER_PERMISSIONS = [
    "incidents.view_incident",
    "incidents.add_incident",
    "incidents.view_service",
    "incidents.view_timelineentry",
    "incidents.add_timelineentry",
    "incidents.view_attachment",
    "incidents.add_attachment",
    "incidents.view_postmortem",
    "escalation.view_team",
    # Response coordination, read-only: the team, the tasks and the fix plan.
    "incidents.view_responserole",
    "incidents.view_investigationtask",
    "incidents.view_solutionoption",
    "incidents.view_implementation",
    # Verification and stakeholder updates: stakeholder-facing updates, and subscribing oneself.
    "incidents.view_statusupdate",
    "incidents.subscribe_to_updates",
]
_AGENT_PERMISSIONS = [
    *_REPORTER_PERMISSIONS,
    # To pick assignees, commanders and team members by name.
    "auth.view_user",
    "incidents.change_incident",
    "incidents.transition_incident",
    "incidents.assign_incident",
    "incidents.add_internal_note",
    "incidents.escalate_incident",
    "escalation.view_oncallschedule",
    "escalation.view_rotationlayer",
    "escalation.view_scheduleoverride",
    # Swapping a shift is every responder's business.
    "escalation.add_scheduleoverride",
    "incidents.add_postmortem",
    "incidents.change_postmortem",
    # Post-mortem follow-ups: added and moved along by responders, never deleted.
    "incidents.view_actionitem",
    "incidents.add_actionitem",
    "incidents.change_actionitem",
    # What monitoring said: alerts and their events, read-only.
    "incidents.view_alert",
    "incidents.view_alertevent",
    # The response team, investigation tasks and fix plan, through their domain functions.
    "incidents.manage_response",
    # Verification and stakeholder updates: posting updates (internal ones are read with
    # add_internal_note), and the monitoring periods.
    "incidents.add_statusupdate",
    "incidents.view_monitoringperiod",
]
# Escalation configuration that incident managers own, with every right on it.
_CONFIGURATION_MODELS = [
    "businesscalendar",
    "workingperiod",
    "holiday",
    "slapolicy",
    "escalationpolicy",
    "escalationlevel",
    "oncallschedule",
    "rotationlayer",
    "layerparticipant",
    "scheduleoverride",
    "contactmethod",
    "notificationrule",
]
# Records of the clock and of paging: read-only for everyone, written by the product.
_CLOCK_RECORDS = ["slaclock", "timer", "timerfiring", "escalationrun", "notification"]

_MANAGER_PERMISSIONS = [
    *_AGENT_PERMISSIONS,
    *(
        f"escalation.{action}_{model}"
        for model in _CONFIGURATION_MODELS
        for action in ("add", "change", "delete", "view")
    ),
    *(f"escalation.view_{model}" for model in _CLOCK_RECORDS),
    "incidents.close_incident",
    "incidents.override_priority",
    # The post-mortem's review: publishing lets a P1/P2 close, as closing is theirs.
    "incidents.publish_postmortem",
    "incidents.reopen_postmortem",
    "incidents.add_service",
    "incidents.change_service",
    "incidents.delete_service",
    "escalation.add_team",
    "escalation.change_team",
    "escalation.delete_team",
    # Integrations are seen by managers; their keys are the admins' (DESIGN.md).
    "incidents.view_integration",
    # Verification and stakeholder updates: others' subscriptions, and the delivery log.
    *(f"incidents.{action}_updatesubscription" for action in ("add", "change", "delete", "view")),
    "incidents.view_updatedelivery",
    "incidents.redeliver_updatedelivery",
    # Management reports: the dashboard, the exports and the scheduled summaries.
    "reports.view_reports",
    *(f"reports.{action}_reportsubscription" for action in ("add", "change", "delete", "view")),
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    REPORTER: _REPORTER_PERMISSIONS,
    AGENT: _AGENT_PERMISSIONS,
    INCIDENT_MANAGER: _MANAGER_PERMISSIONS,
}


def sync_role_groups(**_: Any) -> None:
    """Create the role groups and give each exactly its designed permissions."""
    for role, listed in ROLE_PERMISSIONS.items():
        names = set(listed)
        group, _created = Group.objects.get_or_create(name=role)
        query = Q()
        for name in names:
            app_label, codename = name.split(".")
            query |= Q(content_type__app_label=app_label, codename=codename)
        permissions = list(Permission.objects.filter(query).select_related("content_type"))
        found = {f"{p.content_type.app_label}.{p.codename}" for p in permissions}
        if found != names:
            # Some apps' permissions are created by a later post_migrate of the
            # same run, which completes the group; a name that never appears is a typo.
            logger.debug("role %s waits for permissions %s", role, sorted(names - found))
            continue
        group.permissions.set(permissions)
