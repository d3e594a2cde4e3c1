"""The escalation back office: every model's pages render, engine records are read-only, holidays seed."""

import datetime as dt
import sys
import types
from io import StringIO
from typing import Any

import holidays
import pytest
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelectMultiple, FilteredSelectMultiple
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Model
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from escalation.models import (
    BusinessCalendar,
    Channel,
    ContactMethod,
    DeliveryStatus,
    EscalationLevel,
    EscalationPolicy,
    EscalationRun,
    EscalationTrigger,
    Holiday,
    LayerParticipant,
    Notification,
    NotificationKind,
    NotificationRule,
    OnCallSchedule,
    ResponderProfile,
    RotationLayer,
    ScheduleOverride,
    SlaClock,
    SlaPolicy,
    Team,
    Timer,
    TimerFiring,
    TimerPurpose,
    WebhookDelivery,
    WebhookSubscription,
    Weekday,
    WorkingPeriod,
)
from incidents.models import Incident, Service
from tests.admin_helpers import admin_url, message_texts

pytestmark = pytest.mark.django_db

CONFIGURATION: list[type[Model]] = [
    Team,
    BusinessCalendar,
    SlaPolicy,
    EscalationPolicy,
    OnCallSchedule,
    RotationLayer,
    ResponderProfile,
    ContactMethod,
    NotificationRule,
]
RECORDS: list[type[Model]] = [SlaClock, Timer, TimerFiring, EscalationRun, Notification]


@pytest.fixture
def incident(make_incident: Any) -> Incident:
    return make_incident(title="Checkout returns 502", impact="high", urgency="high")


def make_notification(incident: Incident, user: Any, index: int, **fields: Any) -> Notification:
    fields.setdefault("status", DeliveryStatus.FAILED)
    return Notification.objects.create(
        incident=incident,
        user=user,
        channel=Channel.EMAIL,
        address=f"oncall-{index}@example.com",
        kind=NotificationKind.PAGE,
        level=1,
        subject=f"{incident.number} needs you",
        body="Payments are failing.",
        attempts=3,
        last_error="SMTP 451 " + "temporary failure " * 20,
        idempotency_key=f"admin-test:{incident.pk}:{index}",
        **fields,
    )


@pytest.fixture
def everything(staff_admin: Any, agent: Any, team: Team, service: Service, incident: Incident) -> dict:
    now = timezone.now()
    calendar = BusinessCalendar.objects.create(name="Jakarta office", time_zone="Asia/Jakarta")
    WorkingPeriod.objects.create(calendar=calendar, weekday=Weekday.MONDAY, starts=dt.time(9), ends=dt.time(17))
    Holiday.objects.create(calendar=calendar, date=dt.date(2026, 8, 17), name="Independence Day")
    sla_policy, _created = SlaPolicy.objects.update_or_create(
        priority="P1",
        defaults={
            "acknowledge_within": dt.timedelta(minutes=15),
            "resolve_within": dt.timedelta(hours=4),
            "calendar": calendar,
        },
    )
    policy = EscalationPolicy.objects.create(name="Payments urgent")
    level = EscalationLevel.objects.create(policy=policy, position=1)
    level.users.add(agent)
    level.oncall_teams.add(team)
    service.escalation_policy = policy
    service.save()
    schedule = OnCallSchedule.objects.create(team=team, name="Primary", time_zone="Asia/Jakarta")
    layer = RotationLayer.objects.create(schedule=schedule, name="Weekly", start_date=dt.date(2026, 1, 5))
    LayerParticipant.objects.create(layer=layer, user=agent, position=1)
    ScheduleOverride.objects.create(
        schedule=schedule, user=staff_admin, starts_at=now, ends_at=now + dt.timedelta(hours=8), reason="Swap"
    )
    profile, _created = ResponderProfile.objects.get_or_create(user=agent)
    method = ContactMethod.objects.create(user=agent, channel=Channel.WEBHOOK, address="https://hooks.example.com/a")
    rule = NotificationRule.objects.create(user=agent, contact_method=method)
    clock, _created = SlaClock.objects.update_or_create(
        incident=incident,
        kind="acknowledge",
        defaults={"priority": "P1", "target": dt.timedelta(minutes=15), "started_at": now, "running_since": now},
    )
    timer = Timer.objects.create(
        incident=incident, purpose=TimerPurpose.SLA_WARNING, clock="admin-test", due_at=now + dt.timedelta(minutes=10)
    )
    firing = TimerFiring.objects.create(
        incident=incident,
        timer=timer,
        purpose=timer.purpose,
        clock=timer.clock,
        level=timer.level,
        due_at=timer.due_at,
        fired_at=timer.due_at + dt.timedelta(seconds=3),
    )
    run = EscalationRun.objects.create(
        incident=incident,
        trigger=EscalationTrigger.MANUAL,
        policy=policy,
        snapshot={"levels": [{"position": 1, "users": [agent.pk]}]},
        stopped_at=now,
        stop_reason="acknowledged",
    )
    notification = make_notification(incident, agent, 0, escalation_run=run, contact_method=method)
    return {
        Team: team,
        BusinessCalendar: calendar,
        SlaPolicy: sla_policy,
        EscalationPolicy: policy,
        OnCallSchedule: schedule,
        RotationLayer: layer,
        ResponderProfile: profile,
        ContactMethod: method,
        NotificationRule: rule,
        SlaClock: clock,
        Timer: timer,
        TimerFiring: firing,
        EscalationRun: run,
        Notification: notification,
    }


def test_every_escalation_model_with_an_admin_is_covered() -> None:
    registered = {model for model in admin.site._registry if model._meta.app_label == "escalation"}
    # Webhooks have rights of their own; tests/test_webhook_admin.py covers their pages.
    assert registered == set(CONFIGURATION) | set(RECORDS) | {WebhookSubscription, WebhookDelivery}


@pytest.mark.parametrize("model", CONFIGURATION + RECORDS, ids=lambda m: m.__name__)
def test_every_model_has_a_changelist_and_a_change_page(root_client: Client, everything: dict, model: type) -> None:
    assert root_client.get(admin_url(model, "changelist")).status_code == 200
    obj = everything[model]
    assert root_client.get(admin_url(model, "change", obj.pk)).status_code == 200
    if hasattr(model, "history"):
        assert root_client.get(admin_url(model, "history", obj.pk)).status_code == 200


@pytest.mark.parametrize("model", CONFIGURATION, ids=lambda m: m.__name__)
def test_configuration_add_pages_render(root_client: Client, model: type) -> None:
    assert root_client.get(admin_url(model, "add")).status_code == 200


@pytest.mark.parametrize("model", RECORDS, ids=lambda m: m.__name__)
def test_engine_records_are_read_only(root_client: Client, everything: dict, model: type[Model]) -> None:
    obj = everything[model]
    assert root_client.get(admin_url(model, "add")).status_code == 403
    assert root_client.post(admin_url(model, "add"), {}).status_code == 403
    assert root_client.post(admin_url(model, "change", obj.pk), {}).status_code == 403
    assert root_client.get(admin_url(model, "delete", obj.pk)).status_code == 403
    assert root_client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    model_admin: admin.ModelAdmin[Any] = admin.site.get_model_admin(model)
    request = root_client.get(admin_url(model, "changelist")).wsgi_request
    assert "delete_selected" not in model_admin.get_actions(request)
    assert model._default_manager.filter(pk=obj.pk).exists()


def test_the_signing_secret_is_shown_only_on_the_change_page(root_client: Client, everything: dict) -> None:
    method = everything[ContactMethod]
    listing = root_client.get(admin_url(ContactMethod, "changelist"), {"q": "hooks.example.com"})
    assert list(listing.context["cl"].result_list) == [method]
    assert method.secret not in listing.content.decode()
    page = root_client.get(admin_url(ContactMethod, "change", method.pk))
    assert method.secret in page.content.decode()
    assert "secret" not in page.context["adminform"].form.fields
    assert "secret" not in root_client.get(admin_url(ContactMethod, "add")).context["adminform"].form.fields


def test_a_rule_uses_one_of_the_persons_own_contact_methods(
    root_client: Client, everything: dict, staff_admin: Any
) -> None:
    method = everything[ContactMethod]
    response = root_client.post(
        admin_url(NotificationRule, "add"),
        {"user": str(staff_admin.pk), "contact_method": str(method.pk), "delay": "00:05:00"},
    )
    assert response.status_code == 200
    assert "contact_method" in response.context["adminform"].form.errors
    assert not NotificationRule.objects.filter(user=staff_admin).exists()


def test_overlapping_working_periods_are_refused(root_client: Client) -> None:
    data = {
        "name": "Support desk",
        "time_zone": "Asia/Jakarta",
        "working_periods-TOTAL_FORMS": "2",
        "working_periods-INITIAL_FORMS": "0",
        "working_periods-0-weekday": "0",
        "working_periods-0-starts": "09:00",
        "working_periods-0-ends": "13:00",
        "working_periods-1-weekday": "0",
        "working_periods-1-starts": "12:00",
        "working_periods-1-ends": "17:00",
        "holidays-TOTAL_FORMS": "0",
        "holidays-INITIAL_FORMS": "0",
    }
    response = root_client.post(admin_url(BusinessCalendar, "add"), data)
    assert response.status_code == 200
    assert not BusinessCalendar.objects.filter(name="Support desk").exists()
    data["working_periods-1-starts"] = "13:00"
    assert root_client.post(admin_url(BusinessCalendar, "add"), data).status_code == 302
    assert BusinessCalendar.objects.get(name="Support desk").working_periods.count() == 2


def test_the_policy_page_shows_the_services_that_use_it(root_client: Client, everything: dict) -> None:
    policy = everything[EscalationPolicy]
    response = root_client.get(admin_url(EscalationPolicy, "change", policy.pk))
    assert "Checkout payments" in response.content.decode()
    listing = root_client.get(admin_url(EscalationPolicy, "changelist"))
    assert [row.service_total for row in listing.context["cl"].result_list] == [1]


def test_level_pickers_fall_back_without_the_right_to_browse_users(make_user: Any, everything: dict) -> None:
    editor = make_user(None, username="policy-editor")
    editor.is_staff = True
    editor.save()
    editor.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="escalation",
            codename__in=["view_escalationpolicy", "change_escalationpolicy", "view_team"]
            + ["add_escalationlevel", "change_escalationlevel", "delete_escalationlevel", "view_escalationlevel"],
        )
    )
    client = Client()
    client.force_login(editor)
    response = client.get(admin_url(EscalationPolicy, "change", everything[EscalationPolicy].pk))
    assert response.status_code == 200
    form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert isinstance(form.fields["users"].widget.widget, FilteredSelectMultiple)
    assert isinstance(form.fields["oncall_teams"].widget.widget, AutocompleteSelectMultiple)


def test_the_notification_list_searches_and_filters(root_client: Client, everything: dict, make_incident: Any) -> None:
    wanted = everything[Notification]
    other_incident = make_incident(title="Login page slow")
    other = make_notification(other_incident, None, 1, status=DeliveryStatus.SENT)
    url = admin_url(Notification, "changelist")
    response = root_client.get(url, {"q": wanted.incident.number})
    assert list(response.context["cl"].result_list) == [wanted]
    response = root_client.get(url, {"q": "oncall-1@"})
    assert list(response.context["cl"].result_list) == [other]
    response = root_client.get(url, {"status": DeliveryStatus.FAILED, "channel": Channel.EMAIL, "kind": "page"})
    assert list(response.context["cl"].result_list) == [wanted]
    content = response.content.decode()
    assert wanted.incident.number in content
    assert wanted.last_error[:40] in content
    assert wanted.last_error not in content


def test_redeliver_reports_each_row(
    root_client: Client, everything: dict, staff_admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed = everything[Notification]
    refused = make_notification(allowed.incident, None, 2)
    calls: list[tuple[int, Any]] = []

    def redeliver_notification(*, notification: Notification, actor: Any) -> Notification:
        calls.append((notification.pk, actor))
        if notification.pk == refused.pk:
            raise PermissionDenied("This message may not be sent again.")
        notification.status = DeliveryStatus.PENDING
        return notification

    fake = types.ModuleType("escalation.delivery")
    fake.redeliver_notification = redeliver_notification  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "escalation.delivery", fake)
    response = root_client.post(
        admin_url(Notification, "changelist"),
        {"action": "redeliver", "_selected_action": [str(allowed.pk), str(refused.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert calls == [(allowed.pk, staff_admin), (refused.pk, staff_admin)]
    texts = message_texts(response)
    assert any(allowed.address in text and "Pending" in text for text in texts), texts
    assert any(refused.address in text and "may not be sent again" in text for text in texts), texts


def test_redeliver_through_the_delivery_module(root_client: Client, everything: dict) -> None:
    failed = everything[Notification]
    sent = make_notification(failed.incident, None, 3, status=DeliveryStatus.SENT)
    response = root_client.post(
        admin_url(Notification, "changelist"),
        {"action": "redeliver", "_selected_action": [str(failed.pk), str(sent.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert failed.status != DeliveryStatus.FAILED
    assert sent.status == DeliveryStatus.SENT
    texts = message_texts(response)
    assert any(failed.address in text and "sent for redelivery" in text for text in texts), texts
    assert any(sent.address in text and "not redelivered" in text for text in texts), texts


def test_the_notification_changelist_runs_a_constant_number_of_queries(
    root_client: Client, incident: Incident, make_user: Any
) -> None:
    def make(start: int, count: int) -> None:
        for index in range(start, start + count):
            make_notification(incident, make_user(), index)

    url = admin_url(Notification, "changelist")
    make(0, 3)
    assert root_client.get(url).status_code == 200  # warm the caches
    with CaptureQueriesContext(connection) as few:
        assert root_client.get(url).status_code == 200
    make(3, 27)
    with CaptureQueriesContext(connection) as many:
        response = root_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 30
    assert len(many) == len(few), [query["sql"] for query in many.captured_queries]


# --- seed_holidays -------------------------------------------------------------


def seed(*args: str, **options: Any) -> str:
    out = StringIO()
    call_command("seed_holidays", *args, stdout=out, **options)
    return out.getvalue()


def test_seed_holidays_adds_a_countrys_public_holidays_once(db: None) -> None:
    calendar = BusinessCalendar.objects.create(name="Jakarta office", time_zone="Asia/Jakarta")
    expected = holidays.country_holidays("ID", years=2026)
    output = seed("Jakarta office", "ID", years=[2026])
    assert calendar.holidays.count() == len(expected) > 10
    assert f"Added {len(expected)} holidays" in output
    assert set(calendar.holidays.values_list("date", flat=True)) == set(expected)
    independence = calendar.holidays.get(date=dt.date(2026, 8, 17))
    assert independence.name == expected[dt.date(2026, 8, 17)]
    # Again: nothing new, nothing doubled, and a name set by hand is kept.
    independence.name = "Hari Kemerdekaan"
    independence.save()
    output = seed("Jakarta office", "id", years=[2026])
    assert "Added 0 holidays" in output
    assert calendar.holidays.count() == len(expected)
    assert calendar.holidays.get(date=dt.date(2026, 8, 17)).name == "Hari Kemerdekaan"


def test_seed_holidays_fails_clearly(db: None) -> None:
    BusinessCalendar.objects.create(name="Jakarta office", time_zone="Asia/Jakarta")
    with pytest.raises(CommandError, match="Unknown country 'XX'"):
        seed("Jakarta office", "XX", years=[2026])
    with pytest.raises(CommandError, match="No business calendar named 'Nowhere'"):
        seed("Nowhere", "ID", years=[2026])
    with pytest.raises(CommandError, match="no subdivision 'ZZ'"):
        seed("Jakarta office", "US", years=[2026], subdiv="ZZ")
    assert not Holiday.objects.exists()
