from django.urls import path

from incidents.intake import views

urlpatterns = [
    path("api/v1/integrations/alertmanager/", views.alertmanager, name="intake-alertmanager"),
    path("api/v1/integrations/alertmanager/<str:key>/", views.alertmanager, name="intake-alertmanager-key"),
    path("api/v1/integrations/pagerduty/enqueue", views.pagerduty_enqueue, name="intake-pagerduty"),
    path("api/v1/integrations/generic/", views.generic, name="intake-generic"),
    path("api/v1/integrations/generic/<str:key>/", views.generic, name="intake-generic-key"),
]
