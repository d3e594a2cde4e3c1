"""Webhooks in the back office: subscriptions with a secret shown once, the delivery log, redelivery."""

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from escalation import webhook_delivery
from escalation.models import WebhookDelivery, WebhookSubscription
from incidents.models import Incident
from incidents.roles import AGENT, INCIDENT_MANAGER
from tests.admin_helpers import admin_url, message_texts
from tests.receivers import Receiver

pytestmark = pytest.mark.django_db

ALL_WEBHOOK_PERMISSIONS = [
    f"{action}_{model}"
    for model in ("webhooksubscription", "webhookdelivery")
    for action in ("add", "change", "delete", "view")
] + ["redeliver_webhookdelivery"]


@pytest.fixture
def subscription(receiver: Receiver, staff_admin: Any) -> WebhookSubscription:
    subscription = WebhookSubscription.objects.create(
        name="Status page",
        url=receiver.url("/status"),
        event_types=["incident.created", "incident.transitioned"],
        created_by=staff_admin,
    )
    receiver.secrets["/status"] = subscription.secret
    return subscription


@pytest.fixture
def failed(subscription: WebhookSubscription, receiver: Receiver, make_incident: Any) -> WebhookDelivery:
    make_incident(title="Checkout returns 502")
    row = WebhookDelivery.objects.get()
    receiver.respond_with(422)
    assert webhook_delivery.deliver_webhook(delivery_id=row.pk) == "failed"
    return WebhookDelivery.objects.get(pk=row.pk)


def staff(make_user: Any, role: str, *codenames: str) -> Client:
    user = make_user(role)
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="escalation", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


# --- Subscriptions -----------------------------------------------------------------


def test_subscription_pages_render_without_the_secret(root_client: Client, subscription: WebhookSubscription) -> None:
    for url in (
        admin_url(WebhookSubscription, "changelist"),
        admin_url(WebhookSubscription, "change", subscription.pk),
        admin_url(WebhookSubscription, "history", subscription.pk),
        admin_url(WebhookSubscription, "add"),
    ):
        response = root_client.get(url)
        assert response.status_code == 200, url
        assert subscription.secret not in response.content.decode(), url

    page = root_client.get(admin_url(WebhookSubscription, "change", subscription.pk)).content.decode()
    assert "••••••••••••" + subscription.secret[-4:] in page
    assert admin_url(WebhookSubscription, "rotate_secret", subscription.pk) in page
    assert "secret" not in root_client.get(admin_url(WebhookSubscription, "add")).context["adminform"].form.fields


def test_adding_a_subscription_shows_its_secret_once(root_client: Client, staff_admin: Any) -> None:
    response = root_client.post(
        admin_url(WebhookSubscription, "add"),
        {
            "name": "Chat relay",
            "url": "https://relay.example.com/itsm",
            "event_types": ["note.added"],
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    subscription = WebhookSubscription.objects.get(name="Chat relay")
    assert (subscription.event_types, subscription.is_active, subscription.created_by) == (
        ["note.added"],
        True,
        staff_admin,
    )
    assert len(subscription.secret) == 64
    assert "no-store" in response["Cache-Control"].split(", ")
    assert f'value="{subscription.secret}"' in response.content.decode()
    assert subscription.history.get().history_user == staff_admin
    # Afterwards it is masked everywhere.
    assert (
        subscription.secret
        not in root_client.get(admin_url(WebhookSubscription, "change", subscription.pk)).content.decode()
    )


def test_the_form_refuses_no_event_types_and_other_schemes(root_client: Client) -> None:
    response = root_client.post(
        admin_url(WebhookSubscription, "add"), {"name": "Bad", "url": "ftp://files.example.com/", "is_active": "on"}
    )
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"url", "event_types"}
    response = root_client.post(
        admin_url(WebhookSubscription, "add"),
        {"name": "Bad", "url": "https://x.example.com/", "event_types": ["incident.deleted"], "is_active": "on"},
    )
    assert set(response.context["adminform"].form.errors) == {"event_types"}
    assert not WebhookSubscription.objects.exists()


def test_rotating_asks_first_then_shows_the_new_secret_once(
    root_client: Client, subscription: WebhookSubscription
) -> None:
    old = subscription.secret
    url = admin_url(WebhookSubscription, "rotate_secret", subscription.pk)

    question = root_client.get(url)
    assert question.status_code == 200
    assert old not in question.content.decode()
    assert WebhookSubscription.objects.get(pk=subscription.pk).secret == old

    answer = root_client.post(url)

    new = WebhookSubscription.objects.get(pk=subscription.pk).secret
    assert new != old
    assert answer.status_code == 200
    assert "no-store" in answer["Cache-Control"].split(", ")
    page = answer.content.decode()
    assert f'value="{new}"' in page
    assert old not in page
    assert subscription.history.first().history_change_reason == "signing secret rotated"


def test_the_ping_action_queues_a_ping(root_client: Client, subscription: WebhookSubscription) -> None:
    response = root_client.post(
        admin_url(WebhookSubscription, "changelist"),
        {"action": "send_ping", "_selected_action": [str(subscription.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    ping = WebhookDelivery.objects.get()
    assert (ping.event_type, ping.subscription, ping.incident) == ("ping", subscription, None)
    assert any("ping is on its way" in text for text in message_texts(response))


# --- The delivery log ----------------------------------------------------------------


def test_the_delivery_log_lists_filters_and_shows_a_delivery(
    root_client: Client, failed: WebhookDelivery, subscription: WebhookSubscription, make_incident: Any
) -> None:
    other = WebhookSubscription.objects.create(
        name="Other", url="https://o.example.com/", event_types=["incident.created"]
    )
    make_incident(title="Login slow")
    url = admin_url(WebhookDelivery, "changelist")

    listing = root_client.get(url)
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 3
    filtered = root_client.get(
        url, {"status": "failed", "event_type": "incident.created", "subscription__id__exact": str(subscription.pk)}
    )
    assert list(filtered.context["cl"].result_list) == [failed]
    assert list(root_client.get(url, {"subscription__id__exact": str(other.pk)}).context["cl"].result_list) == list(
        WebhookDelivery.objects.filter(subscription=other)
    )
    assert list(root_client.get(url, {"q": str(failed.event_id)}).context["cl"].result_list) == [failed]
    incident = Incident.objects.get(title="Checkout returns 502")
    assert list(root_client.get(url, {"q": incident.number}).context["cl"].result_list) == [failed]
    assert root_client.get(url, {"q": "not-a-uuid"}).status_code == 200

    detail = root_client.get(admin_url(WebhookDelivery, "change", failed.pk))
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "HTTP 422: nope: 422" in page
    assert "Checkout returns 502" in page  # the payload
    assert str(failed.event_id) in page
    assert subscription.secret not in page


def test_the_delivery_log_is_read_only(root_client: Client, failed: WebhookDelivery) -> None:
    assert root_client.get(admin_url(WebhookDelivery, "add")).status_code == 403
    assert root_client.post(admin_url(WebhookDelivery, "change", failed.pk), {}).status_code == 403
    assert root_client.post(admin_url(WebhookDelivery, "delete", failed.pk), {"post": "yes"}).status_code == 403
    assert WebhookDelivery.objects.filter(pk=failed.pk).exists()


def test_redeliver_sends_a_failed_event_again_and_refuses_a_pending_one(
    root_client: Client, failed: WebhookDelivery, receiver: Receiver, staff_admin: Any, make_incident: Any
) -> None:
    make_incident(title="Still pending")
    pending = WebhookDelivery.objects.get(status="pending")

    response = root_client.post(
        admin_url(WebhookDelivery, "changelist"),
        {"action": "redeliver", "_selected_action": [str(failed.pk), str(pending.pk)]},
        follow=True,
    )

    assert response.status_code == 200
    texts = message_texts(response)
    assert any(str(failed.event_id) in text and "queued for delivery again" in text for text in texts), texts
    assert any(str(pending.event_id) in text and "not redelivered" in text for text in texts), texts
    again = WebhookDelivery.objects.get(pk=failed.pk)
    assert (again.status, again.attempts, again.redelivered_by) == ("pending", 0, staff_admin)
    assert webhook_delivery.deliver_webhook(delivery_id=failed.pk) == "delivered"
    assert [request.verified for request in receiver.requests] == [True, True]


def test_the_delivery_changelist_runs_a_constant_number_of_queries(
    root_client: Client, subscription: WebhookSubscription, make_incident: Any
) -> None:
    url = admin_url(WebhookDelivery, "changelist")
    make_incident(title="First")
    assert root_client.get(url).status_code == 200  # warm the caches
    with CaptureQueriesContext(connection) as few:
        assert root_client.get(url).status_code == 200
    for index in range(20):
        make_incident(title=f"More {index}")
    with CaptureQueriesContext(connection) as many:
        response = root_client.get(url)
    assert response.context["cl"].result_count == 21
    assert len(many) == len(few), [query["sql"] for query in many.captured_queries]


# --- Who may ---------------------------------------------------------------------------


def test_webhooks_are_for_admins_and_incident_managers_given_the_permissions(
    make_user: Any, subscription: WebhookSubscription, failed: WebhookDelivery
) -> None:
    pages = [
        admin_url(WebhookSubscription, "changelist"),
        admin_url(WebhookSubscription, "change", subscription.pk),
        admin_url(WebhookDelivery, "changelist"),
        admin_url(WebhookDelivery, "change", failed.pk),
        admin_url(WebhookSubscription, "rotate_secret", subscription.pk),
    ]
    manager_without = staff(make_user, INCIDENT_MANAGER)
    agent_with = staff(make_user, AGENT, *ALL_WEBHOOK_PERMISSIONS)
    for client in (manager_without, agent_with):
        assert [client.get(page).status_code for page in pages] == [403] * len(pages)
        client.post(admin_url(WebhookSubscription, "rotate_secret", subscription.pk))
    assert WebhookSubscription.objects.get(pk=subscription.pk).secret == subscription.secret

    viewer = staff(make_user, INCIDENT_MANAGER, "view_webhooksubscription", "view_webhookdelivery")
    assert [viewer.get(page).status_code for page in pages] == [200, 200, 200, 200, 403]
    listing = viewer.get(admin_url(WebhookDelivery, "changelist"))
    assert listing.context["action_form"] is None  # no redeliver action without its permission

    manager_with = staff(make_user, INCIDENT_MANAGER, *ALL_WEBHOOK_PERMISSIONS)
    assert [manager_with.get(page).status_code for page in pages] == [200] * len(pages)
    response = manager_with.post(
        admin_url(WebhookDelivery, "changelist"), {"action": "redeliver", "_selected_action": [str(failed.pk)]}
    )
    assert response.status_code == 302
    assert WebhookDelivery.objects.get(pk=failed.pk).status == "pending"
