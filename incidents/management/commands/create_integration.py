from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.choices import IntegrationKind, ResolveAction
from incidents.intake.integrations import create_integration
from incidents.models import Service

PATHS = {
    IntegrationKind.ALERTMANAGER: "/api/v1/integrations/alertmanager/ (key as 'Authorization: Bearer <key>')",
    IntegrationKind.PAGERDUTY: "/api/v1/integrations/pagerduty/enqueue (key as the event's routing_key)",
    IntegrationKind.GENERIC: "/api/v1/integrations/generic/ (key as 'Authorization: Bearer <key>')",
}


class Command(BaseCommand):
    help = "Create an alert integration for SERVICE_SLUG and print its key alone on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("service_slug")
        parser.add_argument("kind", choices=IntegrationKind.values)
        parser.add_argument("--name", default="", help="Defaults to '<service> · <kind>'.")
        parser.add_argument(
            "--resolve-action",
            choices=ResolveAction.values,
            help="What a cleared alert does to its incident (default: resolve for pagerduty, else mitigate).",
        )
        parser.add_argument(
            "--rate-limit", type=int, default=None, help="Events accepted per minute; 0 for no limit (default 6000)."
        )

    def handle(self, *args: Any, service_slug: str, kind: str, **options: Any) -> None:
        service = Service.objects.filter(slug=service_slug).first()
        if service is None:
            raise CommandError(f"No service with the slug {service_slug!r}.")
        settings: dict[str, Any] = {}
        if options["resolve_action"]:
            settings["resolve_action"] = options["resolve_action"]
        if options["rate_limit"] is not None:
            if options["rate_limit"] < 0:
                raise CommandError("--rate-limit cannot be negative.")
            settings["rate_limit_per_minute"] = options["rate_limit"]
        try:
            integration, key = create_integration(
                service=service, kind=kind, actor=None, name=options["name"], **settings
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(f"Created integration {integration.name!r} (id {integration.pk}) for {service.slug}.")
        self.stdout.write(f"Send alerts to {PATHS[IntegrationKind(kind)]}. The key is shown only now:")
        self.stdout.write(key)
