"""The account that background work acts as, so the audit trail names it."""

from django.conf import settings
from django.contrib.auth.models import Group, User

from incidents.roles import INCIDENT_MANAGER


def system_user() -> User:
    """The system account, created on first use with the incident manager role.

    It cannot log in (no usable password) and holds the role's rights only.
    """
    user, created = User.objects.get_or_create(
        username=settings.SYSTEM_USERNAME, defaults={"first_name": "ITSM", "last_name": "automation"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=INCIDENT_MANAGER))
    return user
