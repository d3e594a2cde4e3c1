from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class EscalationConfig(AppConfig):
    name = "escalation"
    verbose_name = _("Teams and escalation")

    def ready(self) -> None:
        from escalation.defaults import ensure_default_sla_policies

        post_migrate.connect(ensure_default_sla_policies, sender=self, dispatch_uid="escalation.default_sla_policies")
        # Registers what each kind of timer does when it fires (escalation.timers.on_fire).
        from escalation import paging, reactions  # noqa: F401
