from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = _("Incidents")

    def ready(self) -> None:
        from incidents.roles import sync_role_groups

        # Permissions are created by post_migrate too, so the groups are synced
        # after them: this receiver is connected after auth's.
        post_migrate.connect(sync_role_groups, dispatch_uid="incidents.sync_role_groups")
        # Registers what the monitoring and update-reminder timers do when they fire (escalation.timers.on_fire).
        from incidents import monitoring, updates  # noqa: F401
