"""The objects the access matrix (tests/test_access_matrix.py) reaches, made once per module.

Everything a user owns belongs to `owner`, a user outside the roles under test,
so each role meets only other people's profiles, filters and pages: the rows
that touch them expect 404, which also tells nothing about what exists.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.authtoken.models import Token

from escalation import contacts
from escalation import profile as profile_settings
from escalation.ack_links import ack_token
from escalation.models import Channel, Notification, OnCallSchedule, Team
from incidents.action_items import add_action_item
from incidents.fix_plan import propose_option
from incidents.intake.integrations import create_integration
from incidents.investigation import create_task
from incidents.lifecycle import investigate_incident, mitigate_incident
from incidents.models import Attachment, Incident, Service
from incidents.models.postmortems import ActionItem, PostMortem, PostMortemMoment
from incidents.models.preferences import SavedFilter
from incidents.models.response import InvestigationTask, ResponseRole, SolutionOption
from incidents.postmortem_timeline import add_moment
from incidents.postmortems import write_postmortem
from incidents.response import add_responder
from incidents.roles import AGENT, INCIDENT_MANAGER, REPORTER
from incidents.services import add_attachment, add_note, report_incident
from incidents.updates import subscribe
from reports.models import ReportSubscription
from tests.response_helpers import put_on_call

User = get_user_model()

ANONYMOUS = "anonymous"
INTEGRATION_KEY = "integration_key"
ADMIN = "admin"
# The columns of the matrix, in its order.
ROLES = (ANONYMOUS, REPORTER, AGENT, INCIDENT_MANAGER, ADMIN, INTEGRATION_KEY)

INTERNAL_NOTE = "Internal: the database primary is out of disk"
PUBLIC_NOTE = "We are looking into failed payments"


@dataclass
class World:
    users: dict[str, Any]
    tokens: dict[str, str]
    owner: Any
    team: Team
    service: Service
    incident: Incident
    done: Incident
    postmortem: PostMortem
    moment: PostMortemMoment
    action_item: ActionItem
    role: ResponseRole
    task: InvestigationTask
    option: SolutionOption
    attachment: Attachment
    schedule: OnCallSchedule
    # One integration of each kind; `integration_key` is the generic one's.
    keys: dict[str, str]
    integration_key: str
    # Owned by `owner`.
    contact_method: Any
    notification_rule: Any
    saved_filter: SavedFilter
    report_subscription: ReportSubscription
    update_subscription: Any
    page: Notification
    feed_token: str


def _user(username: str, role: str | None, *, superuser: bool = False) -> Any:
    user = User.objects.create_user(
        username=username, password="a-long-test-password", is_superuser=superuser, is_staff=superuser
    )
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    return user


def build_world() -> World:
    users = {
        REPORTER: _user("matrix-reporter", REPORTER),
        AGENT: _user("matrix-agent", AGENT),
        INCIDENT_MANAGER: _user("matrix-manager", INCIDENT_MANAGER),
        ADMIN: _user("matrix-admin", None, superuser=True),
    }
    tokens = {role: Token.objects.create(user=user).key for role, user in users.items()}
    owner = _user("matrix-owner", INCIDENT_MANAGER)
    owner.email = "owner@example.com"
    owner.save(update_fields=["email"])
    agent = users[AGENT]

    team = Team.objects.create(name="Payments", slug="payments")
    service = Service.objects.create(name="Checkout payments", slug="checkout-payments", owner_team=team)
    incident = report_incident(
        reporter=users[REPORTER], title="Payments failing", impact="high", urgency="high", services=[service]
    )
    add_note(incident=incident, actor=agent, body=INTERNAL_NOTE, visibility="internal")
    add_note(incident=incident, actor=agent, body=PUBLIC_NOTE, visibility="public")
    role = add_responder(incident=incident, actor=agent, user=agent, role="sme", expertise="DB")
    task = create_task(incident=incident, actor=agent, title="Check the database")
    option = propose_option(incident=incident, actor=agent, title="Fail over", kind="quick_fix", risk="low")
    attachment = add_attachment(
        incident=incident, actor=agent, file=SimpleUploadedFile("log.txt", b"error 500\n", "text/plain")
    )

    done = report_incident(reporter=agent, title="Search slow", impact="low", urgency="low")
    done = investigate_incident(incident=done, actor=agent)
    done = mitigate_incident(incident=done, actor=agent, note="Restarted the search nodes")
    postmortem = write_postmortem(incident=done, actor=agent, changes={"summary": "Search was slow"})
    moment = add_moment(postmortem=postmortem, actor=agent, occurred_at=timezone.now(), body="Paged")
    action_item = add_action_item(postmortem=postmortem, actor=agent, title="Alert on latency", owner=owner)

    schedule = put_on_call(team, owner)
    keys = {
        kind: create_integration(service=service, kind=kind, actor=None)[1]
        for kind in ("alertmanager", "generic", "pagerduty")
    }

    method = contacts.add_contact_method(user=owner, actor=owner, channel=Channel.EMAIL, address="owner@example.com")
    rule = contacts.add_notification_rule(user=owner, actor=owner, contact_method=method, delay=dt.timedelta(minutes=5))
    page = Notification.objects.create(
        incident=incident,
        user=owner,
        contact_method=method,
        channel=Channel.EMAIL,
        address=method.address,
        subject="Page",
        body="Payments failing",
        idempotency_key="matrix-page",
    )
    return World(
        users=users,
        tokens=tokens,
        owner=owner,
        team=team,
        service=service,
        incident=incident,
        done=done,
        postmortem=postmortem,
        moment=moment,
        action_item=action_item,
        role=role,
        task=task,
        option=option,
        attachment=attachment,
        schedule=schedule,
        keys=keys,
        integration_key=keys["generic"],
        contact_method=method,
        notification_rule=rule,
        saved_filter=SavedFilter.objects.create(user=owner, name="Mine", query="state=new"),
        report_subscription=ReportSubscription.objects.create(user=owner, frequency="weekly"),
        update_subscription=subscribe(actor=owner, service=service, user=owner),
        page=page,
        feed_token=profile_settings.renew_feed_token(user=owner, actor=owner).feed_token,
    )


def page_token(world: World) -> str:
    return ack_token(notification=world.page)
