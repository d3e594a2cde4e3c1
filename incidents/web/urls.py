from django.urls import path

from incidents.web import views

app_name = "web"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("incidents/new/", views.report, name="report"),
    path("incidents/new/priority/", views.priority_preview, name="priority-preview"),
    path("incidents/<str:number>/", views.incident_detail, name="incident"),
]
