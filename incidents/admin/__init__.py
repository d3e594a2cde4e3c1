"""The back office: every incident model in the Django admin.

The admin is one more door into the domain. Whatever it changes on an
incident goes through `incidents.lifecycle`, `incidents.services`,
`incidents.postmortems`, `incidents.action_items` and the response
coordination modules (`incidents.response`, `incidents.investigation`,
`incidents.fix_plan`), exactly like the API, so the permission checks, the
timeline and the history user are the same; it never calls a model
transition method, never writes `Incident.state` and never saves an incident
itself.

Importing the modules below registers their admins (`admin.autodiscover`
imports this package).
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from incidents.admin import (  # noqa: F401
    action_items,
    incident,
    intake,
    postmortems,
    records,
    response,
    tokens,
    updates,
)

admin.site.site_header = _("ITSM back office")
admin.site.site_title = _("ITSM")
admin.site.index_title = _("Incidents, services and teams")
