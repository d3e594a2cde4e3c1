"""Subscribing to the scheduled summary from the dashboard, and stopping it."""

from typing import Any

import pytest
from django.test import Client

from escalation.models import Team
from incidents.models import Service
from reports.models import ReportSubscription


@pytest.fixture
def manager_client(manager: Any) -> Client:
    manager.email = "maya@example.com"
    manager.save()
    client = Client()
    client.force_login(manager)
    return client


@pytest.mark.django_db
def test_a_manager_subscribes_with_the_dashboard_filters(manager_client: Client, manager: Any) -> None:
    team = Team.objects.create(name="One", slug="one")
    Service.objects.create(name="Checkout", slug="checkout", owner_team=team)
    page = manager_client.get("/reports/?service=checkout&priority=P1&start=2026-03-01&end=2026-03-31")
    assert page.status_code == 200
    # The form carries the filters, not the dates.
    assert 'value="priority=P1&amp;service=checkout"' in page.content.decode()

    response = manager_client.post(
        "/reports/subscriptions/",
        {"frequency": "weekly", "filters": "priority=P1&service=checkout", "next": "/reports/"},
    )
    assert response.status_code == 302
    subscription = ReportSubscription.objects.get()
    assert (subscription.user, subscription.frequency, subscription.filters) == (
        manager,
        "weekly",
        "priority=P1&service=checkout",
    )
    assert subscription.history.get().history_user == manager

    # The same again is not a second subscription.
    manager_client.post("/reports/subscriptions/", {"frequency": "weekly", "filters": "priority=P1&service=checkout"})
    assert ReportSubscription.objects.count() == 1
    page = manager_client.get("/reports/")
    assert "Unsubscribe" in page.content.decode()


@pytest.mark.django_db
def test_bad_subscriptions_change_nothing(manager_client: Client) -> None:
    for data in (
        {"frequency": "daily"},
        {"frequency": "weekly", "filters": "service=nope"},
        {"frequency": "weekly", "filters": "start=2026-01-01"},
    ):
        response = manager_client.post("/reports/subscriptions/", data, follow=True)
        assert response.status_code == 200
    assert not ReportSubscription.objects.exists()


@pytest.mark.django_db
def test_only_ones_own_subscription_can_be_stopped(manager_client: Client, manager: Any, make_user: Any) -> None:
    other = make_user("incident_manager", username="other")
    theirs = ReportSubscription.objects.create(user=other, frequency="monthly")
    assert manager_client.post(f"/reports/subscriptions/{theirs.pk}/delete/").status_code == 404
    assert ReportSubscription.objects.filter(pk=theirs.pk).exists()

    mine = ReportSubscription.objects.create(user=manager, frequency="weekly")
    assert manager_client.post(f"/reports/subscriptions/{mine.pk}/delete/").status_code == 302
    assert not ReportSubscription.objects.filter(pk=mine.pk).exists()
    gone = ReportSubscription.history.filter(id=mine.pk, history_type="-").get()
    assert gone.history_user == manager


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["agent", "reporter"])
def test_others_cannot_subscribe(role: str, make_user: Any) -> None:
    client = Client()
    client.force_login(make_user(role))
    assert client.post("/reports/subscriptions/", {"frequency": "weekly"}).status_code == 403
    assert not ReportSubscription.objects.exists()
