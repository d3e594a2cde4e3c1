"""Demo data: teams, a user per role, services, and incidents in every state.

The closed P1, with its published post-mortem and open follow-ups, is told
in `incidents/management/demo_postmortem.py`.

Safe to stop and run again: every object is looked up before it is made, and
each incident is written in its own transaction.
"""

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from escalation.models import EscalationLevel, EscalationPolicy, LayerParticipant, OnCallSchedule, RotationLayer, Team
from incidents import lifecycle, services
from incidents.choices import Category, Criticality, IntegrationKind, Source
from incidents.intake.integrations import create_integration
from incidents.management.demo_postmortem import TITLE as CLOSED_P1
from incidents.management.demo_postmortem import load_closed_p1
from incidents.models import Incident, Integration, Service
from incidents.roles import AGENT, INCIDENT_MANAGER, REPORTER

DEMO_PASSWORD = "itsm-demo"  # noqa: S105 — demo accounts only, printed for the person who ran `make run`

USERS = [
    # username, first name, role (None: superuser)
    ("admin", "Ayu", None),
    ("maya", "Maya", INCIDENT_MANAGER),
    ("agus", "Agus", AGENT),
    ("sari", "Sari", AGENT),
    ("budi", "Budi", AGENT),
    ("rina", "Rina", REPORTER),
]
TEAMS = [
    ("payments", "Payments", ["agus", "budi"], ["maya"]),
    ("platform", "Platform", ["sari", "budi"], ["maya"]),
    ("data", "Data & dashboards", ["sari"], ["maya"]),
    ("partners", "Partner integrations", ["agus"], ["maya"]),
]
SERVICES = [
    ("checkout-payments", "Checkout payments", "payments", Criticality.CRITICAL, True),
    ("customer-dashboard", "Customer dashboard", "data", Criticality.HIGH, True),
    ("partner-bank-api", "Partner bank API", "partners", Criticality.CRITICAL, True),
    ("logistics-tracking", "Logistics tracking", "platform", Criticality.MEDIUM, True),
    ("identity", "Login and identity", "platform", Criticality.CRITICAL, True),
    ("internal-network", "Office and data-centre network", "platform", Criticality.HIGH, False),
]

# title, description, category, impact, urgency, services, team, hours ago, steps (transition, fields)
INCIDENTS: list[dict[str, Any]] = [
    {
        "title": "Payments failing for all users at checkout",
        "description": "Every card payment returns 'transaction declined' since 09:12; the checkout error rate is 100%.",
        "category": Category.APPLICATION_ERROR,
        "impact": "high",
        "urgency": "high",
        "services": ["checkout-payments"],
        "team": "payments",
        "hours_ago": 1,
        "affected_users": 48_000,
        "source": Source.MONITORING,
        "steps": [("investigate", {"note": "War room open; payment gateway logs collected."})],
    },
    {
        "title": "Dashboard not loading the latest data",
        "description": "Customers see figures from yesterday; the nightly import job reports success but tables are stale.",
        "category": Category.FEATURE_BROKEN,
        "impact": "high",
        "urgency": "medium",
        "services": ["customer-dashboard"],
        "team": "data",
        "hours_ago": 3,
        "affected_users": 1_200,
        "steps": [("acknowledge", {})],
    },
    {
        "title": "Partner bank API down",
        "description": "All transfer requests to the partner bank time out after 30 s; their status page is silent.",
        "category": Category.THIRD_PARTY,
        "impact": "high",
        "urgency": "high",
        "services": ["partner-bank-api"],
        "team": "partners",
        "hours_ago": 5,
        "affected_users": 15_000,
        "source": Source.MONITORING,
        "steps": [
            ("investigate", {}),
            ("mitigate", {"note": "Transfers routed through the secondary bank link; queue draining."}),
        ],
    },
    {
        "title": "Shipment tracking updates arrive late",
        "description": "Tracking pages lag the carrier's scans by about two hours.",
        "category": Category.API_DISRUPTION,
        "impact": "medium",
        "urgency": "medium",
        "services": ["logistics-tracking"],
        "team": "platform",
        "hours_ago": 2,
        "affected_users": 300,
        "steps": [],
    },
    {
        "title": "Intermittent VPN drops at the Bandung office",
        "description": "Staff lose the VPN for a minute or two several times an hour.",
        "category": Category.NETWORK,
        "impact": "medium",
        "urgency": "low",
        "services": ["internal-network"],
        "team": "platform",
        "hours_ago": 26,
        "steps": [("acknowledge", {}), ("hold", {"reason": "Waiting for the ISP to replace the line card."})],
    },
    {
        "title": "Password reset emails delayed",
        "description": "Reset emails take 20–30 minutes to arrive.",
        "category": Category.THIRD_PARTY,
        "impact": "medium",
        "urgency": "high",
        "services": ["identity"],
        "team": "platform",
        "hours_ago": 30,
        "steps": [
            ("investigate", {}),
            (
                "resolve",
                {
                    "root_cause": "Email provider throttled our sending domain.",
                    "resolution": "Raised the sending quota and added a second provider.",
                },
            ),
        ],
    },
    {
        "title": "Checkout slow on mobile",
        "description": "Reported by support: the checkout page spins for a while on phones.",
        "category": Category.APPLICATION_ERROR,
        "impact": "low",
        "urgency": "medium",
        "services": ["checkout-payments"],
        "team": "payments",
        "hours_ago": 4,
        "steps": [("cancel", {"reason": "False alarm: the reporter's own network was slow."})],
    },
    {
        "title": "Typo in the invoice footer",
        "description": "The footer of PDF invoices says 'Thnak you'.",
        "category": Category.OTHER,
        "impact": "low",
        "urgency": "low",
        "services": ["customer-dashboard"],
        "team": "data",
        "hours_ago": 8,
        "source": Source.EMAIL,
        "steps": [],
    },
]


class Command(BaseCommand):
    help = "Load demo teams, users (one per role), services and incidents in every state. Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet-login", action="store_true", help="Do not print the demo login.")

    def handle(self, *args: Any, **options: Any) -> None:
        users = self._users()
        teams = self._teams(users)
        self._services(teams)
        self._on_call(teams, users)
        total = len(INCIDENTS) + 1
        for index, spec in enumerate(INCIDENTS, start=1):
            made = self._incident(spec, users, teams)
            self.stdout.write(f"[{index}/{total}] {'created' if made else 'exists '} {spec['title']}")
        made = load_closed_p1(users, teams)
        self.stdout.write(f"[{total}/{total}] {'created' if made else 'exists '} {CLOSED_P1} (published post-mortem)")
        self._integrations()
        if not options["quiet_login"]:
            self.stdout.write(self.style.SUCCESS(f"Demo login: admin / {DEMO_PASSWORD} (also maya, agus, rina …)"))

    def _users(self) -> dict[str, Any]:
        user_model = get_user_model()
        users = {}
        for username, first_name, role in USERS:
            user, created = user_model.objects.get_or_create(
                username=username,
                defaults={"first_name": first_name, "email": f"{username}@example.com", "is_staff": True},
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                if role is None:
                    user.is_superuser = True
                user.save()
                if role is not None:
                    user.groups.add(Group.objects.get(name=role))
            users[username] = user
        self.stdout.write(f"users: {', '.join(users)}")
        return users

    def _teams(self, users: dict[str, Any]) -> dict[str, Team]:
        teams = {}
        for slug, name, members, managers in TEAMS:
            team, created = Team.objects.get_or_create(slug=slug, defaults={"name": name})
            if created:
                team.members.set([users[m] for m in members])
                team.managers.set([users[m] for m in managers])
            teams[slug] = team
        self.stdout.write(f"teams: {', '.join(teams)}")
        return teams

    def _services(self, teams: dict[str, Team]) -> None:
        for slug, name, team, criticality, customer_facing in SERVICES:
            Service.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "owner_team": teams[team],
                    "criticality": criticality,
                    "customer_facing": customer_facing,
                },
            )
        self.stdout.write(f"services: {len(SERVICES)}")

    def _integrations(self) -> None:
        """One Alertmanager integration on the checkout service; its key is printed only when it is made."""
        service = Service.objects.get(slug="checkout-payments")
        if Integration.objects.filter(service=service, kind=IntegrationKind.ALERTMANAGER).exists():
            self.stdout.write("integration: exists (rotate its key in the back office to see a new one)")
            return
        integration, key = create_integration(
            service=service, kind=IntegrationKind.ALERTMANAGER, actor=None, name="Demo Alertmanager"
        )
        self.stdout.write(
            f"integration: {integration.name}, key {key} "
            "(POST Alertmanager notifications to /api/v1/integrations/alertmanager/ with 'Authorization: Bearer <key>')"
        )

    def _on_call(self, teams: dict[str, Team], users: dict[str, Any]) -> None:
        """A weekly rota per team and an escalation policy per team: on-call first, then the managers."""
        for slug, _name, members, _managers in TEAMS:
            team = teams[slug]
            schedule, created = OnCallSchedule.objects.get_or_create(
                team=team, name="Primary", defaults={"time_zone": "Asia/Jakarta"}
            )
            if created:
                layer = RotationLayer.objects.create(
                    schedule=schedule,
                    name="Weekly",
                    start_date=dt.date(2026, 1, 5),
                    handoff_time=dt.time(9),
                    rotation_length=dt.timedelta(days=7),
                )
                for position, member in enumerate(members, start=1):
                    LayerParticipant.objects.create(layer=layer, user=users[member], position=position)
            policy, created = EscalationPolicy.objects.get_or_create(
                name=f"{team.name} escalation", defaults={"repeat_count": 1, "is_default": slug == "platform"}
            )
            if created:
                on_call = EscalationLevel.objects.create(
                    policy=policy, position=1, escalate_after=dt.timedelta(minutes=5)
                )
                on_call.oncall_teams.add(team)
                managers = EscalationLevel.objects.create(
                    policy=policy, position=2, escalate_after=dt.timedelta(minutes=10)
                )
                managers.manager_teams.add(team)
            Service.objects.filter(owner_team=team, escalation_policy=None).update(escalation_policy=policy)
        self.stdout.write("on-call schedules and escalation policies: one per team")

    def _incident(self, spec: dict[str, Any], users: dict[str, Any], teams: dict[str, Team]) -> bool:
        if Incident.objects.filter(title=spec["title"]).exists():
            return False
        manager, agent = users["maya"], users["agus"]
        started = timezone.now() - dt.timedelta(hours=spec["hours_ago"])
        with transaction.atomic():
            incident = services.report_incident(
                reporter=users["rina"] if spec.get("source") != Source.MONITORING else manager,
                title=spec["title"],
                description=spec["description"],
                category=spec["category"],
                source=spec.get("source", Source.WEB),
                impact=spec["impact"],
                urgency=spec["urgency"],
                services=list(Service.objects.filter(slug__in=spec["services"])),
                started_at=started,
                detected_at=started + dt.timedelta(minutes=4),
                affected_users=spec.get("affected_users"),
                team=teams[spec["team"]],
            )
            if spec["steps"]:
                incident = services.assign_incident(incident=incident, actor=manager, assignee=agent, commander=manager)
            for name, fields in spec["steps"]:
                incident = lifecycle.transition_incident(
                    incident=incident, name=name, actor=manager if name == "close" else agent, **fields
                )
        return True
