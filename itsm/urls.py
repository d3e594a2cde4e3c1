from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from escalation.api.profile import MyContactMethodViewSet, MyNotificationRuleViewSet
from escalation.api.views import TeamViewSet
from incidents.api.views import IncidentViewSet, ServiceViewSet
from itsm.health import healthz
from reports.prometheus import metrics

router = DefaultRouter()
router.register("incidents", IncidentViewSet, basename="incident")
router.register("services", ServiceViewSet, basename="service")
router.register("teams", TeamViewSet, basename="team")
router.register("me/contact-methods", MyContactMethodViewSet, basename="my-contact-method")
router.register("me/notification-rules", MyNotificationRuleViewSet, basename="my-notification-rule")

# Swagger UI's start-up code as a script file of its own (no inline script); its React components
# set style attributes, which only this page's policy allows.
api_docs = csp_update({"style-src": ["'unsafe-inline'"]})(SpectacularSwaggerSplitView.as_view(url_name="schema"))

urlpatterns = [
    path("", include("incidents.web.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("incidents.intake.urls")),
    path("api/v1/", include(router.urls)),
    path("api/v1/incidents/<str:number>/", include("incidents.api.response_urls")),
    path("api/v1/", include("incidents.api.updates_urls")),
    path("api/v1/", include("incidents.api.postmortem_urls")),
    path("api/v1/reports/", include("reports.api.urls")),
    path("api/v1/", include("reports.exports.urls")),
    path("reports/", include("reports.web.urls")),
    path("", include("reports.exports.web_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("api-auth/", include("rest_framework.urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("", include("escalation.oncall_urls")),
    path("", include("escalation.paging_urls")),
]

handler404 = "itsm.error_pages.not_found"
# A page or middleware that cannot reach the database answers 503, not 500.
handler500 = "itsm.unavailable.server_error"
