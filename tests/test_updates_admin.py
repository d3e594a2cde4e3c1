"""Verification and stakeholder updates in the back office: the incident page, SLA policies, subscriptions, the log."""

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db.models import Model
from django.test import Client

from escalation.models import SlaPolicy
from incidents import lifecycle, update_delivery, updates
from incidents.models import Incident, Service, StatusUpdate, UpdateDelivery, UpdateSubscription
from incidents.roles import AGENT, INCIDENT_MANAGER, REPORTER
from incidents.updates import post_status_update
from tests.admin_helpers import admin_url, message_texts
from tests.receivers import Receiver

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 11, 18, 3, 0, tzinfo=dt.UTC)


def staff_client(make_user: Any, role: str, username: str) -> tuple[Client, Any]:
    user = make_user(None, username=username)
    user.groups.add(Group.objects.get(name=role))
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client, user


@pytest.fixture
def incident(make_incident: Any, service: Service, agent: Any) -> Incident:
    with time_machine.travel(START, tick=False) as traveller:
        incident = make_incident(title="Checkout down", impact="high", urgency="high", services=[service])
        incident = lifecycle.acknowledge_incident(incident=incident, actor=agent)
        traveller.move_to(START + dt.timedelta(minutes=10))
        incident = lifecycle.mitigate_incident(incident=incident, actor=agent, note="Rolled back")
        post_status_update(incident=incident, actor=agent, body="Rollback done, watching.", audience="stakeholders")
        post_status_update(incident=incident, actor=agent, body="Release 42 is the suspect.", audience="internal")
    return incident


@pytest.fixture
def failed(incident: Incident, service: Service, manager: Any, agent: Any, receiver: Receiver) -> UpdateDelivery:
    updates.subscribe(actor=manager, service=service, url=receiver.url())
    receiver.respond_with(410)
    post_status_update(incident=incident, actor=agent, body="Still watching.", audience="stakeholders")
    row = UpdateDelivery.objects.get()
    assert update_delivery.deliver_update(delivery_id=row.pk) == "failed"
    return UpdateDelivery.objects.get(pk=row.pk)


def test_the_incident_page_shows_monitoring_and_updates(root_client: Client, incident: Incident) -> None:
    page = root_client.get(admin_url(Incident, "change", incident.pk)).content.decode()

    assert "Monitoring periods" in page
    assert "Rollback done, watching." in page
    assert "Release 42 is the suspect." in page
    assert "Monitoring ends at" in page
    assert "Next status update due at" in page


def test_reporters_in_the_back_office_see_stakeholder_updates_only(make_user: Any, incident: Incident) -> None:
    client, _user = staff_client(make_user, REPORTER, "backoffice-reporter")
    page = client.get(admin_url(Incident, "change", incident.pk)).content.decode()
    assert "Rollback done, watching." in page
    assert "Release 42 is the suspect." not in page
    listing = client.get(admin_url(StatusUpdate, "changelist")).content.decode()
    assert "Rollback done, watching." in listing
    assert "Release 42 is the suspect." not in listing


@pytest.mark.parametrize("model", [StatusUpdate, UpdateSubscription, UpdateDelivery], ids=lambda m: m.__name__)
def test_the_new_pages_render(root_client: Client, failed: UpdateDelivery, model: type[Model]) -> None:
    objects: dict[type[Model], Model] = {
        StatusUpdate: failed.update,
        UpdateSubscription: failed.subscription,
        UpdateDelivery: failed,
    }
    assert root_client.get(admin_url(model, "changelist")).status_code == 200
    assert root_client.get(admin_url(model, "change", objects[model].pk)).status_code == 200
    if model is UpdateSubscription:
        assert root_client.get(admin_url(model, "add")).status_code == 200
        page = root_client.get(admin_url(model, "change", failed.subscription.pk)).content.decode()
        assert failed.subscription.secret not in page
    else:
        assert root_client.get(admin_url(model, "add")).status_code == 403


def test_the_sla_policy_admin_edits_the_monitoring_period_and_cadence(root_client: Client, staff_admin: Any) -> None:
    policy = SlaPolicy.objects.get(priority="P3")
    response = root_client.post(
        admin_url(SlaPolicy, "change", policy.pk),
        {
            "priority": "P3",
            "acknowledge_within": "04:00:00",
            "resolve_within": "1 00:00:00",
            "warning_percent": "75",
            "calendar": str(policy.calendar_id),
            "monitoring_period": "00:45:00",
            "update_every": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    policy.refresh_from_db()
    assert (policy.monitoring_period, policy.update_every) == (dt.timedelta(minutes=45), None)
    assert policy.history.first().history_user == staff_admin


def test_adding_a_webhook_subscription_shows_its_secret_once(
    root_client: Client, staff_admin: Any, service: Service
) -> None:
    response = root_client.post(
        admin_url(UpdateSubscription, "add"),
        {"service": str(service.pk), "user": "", "email": "", "url": "https://status.example.com/hooks/itsm"},
    )

    assert response.status_code == 200
    subscription = UpdateSubscription.objects.get()
    assert (subscription.channel, subscription.created_by) == ("webhook", staff_admin)
    assert "no-store" in response["Cache-Control"].split(", ")
    assert f'value="{subscription.secret}"' in response.content.decode()
    assert subscription.history.get().history_user == staff_admin
    assert subscription.secret not in root_client.get(admin_url(UpdateSubscription, "changelist")).content.decode()


def test_an_email_subscription_is_added_paused_and_removed_through_the_domain(make_user: Any, service: Service) -> None:
    client, manager = staff_client(make_user, INCIDENT_MANAGER, "backoffice-manager")
    added = client.post(
        admin_url(UpdateSubscription, "add"),
        {"service": str(service.pk), "user": "", "email": "ops@partner.example", "url": ""},
    )
    assert added.status_code == 302
    subscription = UpdateSubscription.objects.get()
    assert (subscription.channel, subscription.email, subscription.created_by) == (
        "email",
        "ops@partner.example",
        manager,
    )

    paused = client.post(admin_url(UpdateSubscription, "change", subscription.pk), {})
    assert paused.status_code == 302
    subscription.refresh_from_db()
    assert subscription.is_active is False
    latest = subscription.history.first()
    assert (latest.history_user, latest.history_change_reason) == (manager, "paused")

    deleted = client.post(admin_url(UpdateSubscription, "delete", subscription.pk), {"post": "yes"})
    assert deleted.status_code == 302
    assert not UpdateSubscription.objects.exists()
    gone = UpdateSubscription.history.filter(id=subscription.pk, history_type="-").get()
    assert (gone.history_user, gone.history_change_reason) == (manager, "unsubscribed")


def test_a_subscription_needs_exactly_one_recipient(root_client: Client, service: Service) -> None:
    response = root_client.post(
        admin_url(UpdateSubscription, "add"),
        {"service": str(service.pk), "user": "", "email": "a@example.com", "url": "https://hooks.example.com/"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not UpdateSubscription.objects.exists()


def test_agents_do_not_manage_subscriptions(make_user: Any, service: Service) -> None:
    client, _user = staff_client(make_user, AGENT, "backoffice-agent")
    assert client.get(admin_url(UpdateSubscription, "changelist")).status_code == 403
    assert client.get(admin_url(UpdateDelivery, "changelist")).status_code == 403


def test_the_redeliver_action_puts_a_failed_update_back(
    make_user: Any, failed: UpdateDelivery, receiver: Receiver
) -> None:
    client, manager = staff_client(make_user, INCIDENT_MANAGER, "backoffice-manager")
    response = client.post(
        admin_url(UpdateDelivery, "changelist"),
        {"action": "redeliver", "_selected_action": [str(failed.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert any("queued for delivery again" in text for text in message_texts(response))
    row = UpdateDelivery.objects.get(pk=failed.pk)
    assert (row.status, row.attempts, row.redelivered_by) == ("pending", 0, manager)
    assert update_delivery.deliver_update(delivery_id=row.pk) == "delivered"
    assert len(receiver.requests) == 2
