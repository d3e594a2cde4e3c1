from django.urls import path

from incidents.intake import views

urlpatterns = [
    path("api/v1/integrations/alertmanager/", views.alertmanager, name="intake-alertmanager"),
    path("api/v1/integrations/alertmanager/<str:key>/", views.alertmanager, name="intake-alertmanager-key"),
    path("api/v1/integrations/pagerduty/enqueue", views.pagerduty_enqueue, name="intake-pagerduty"),
    path("api/v1/integrations/generic/", views.generic, name="intake-generic"),
    path("api/v1/integrations/generic/<str:key>/", views.generic, name="intake-generic-key"),
]

# The lean lane (itsm/wsgi.py) resolves against this module alone: a path under it that matches
# nothing gets the API's JSON 404, as it would through the full stack.
handler404 = "itsm.error_pages.not_found"
