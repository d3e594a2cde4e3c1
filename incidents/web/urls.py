from django.urls import path

from incidents.web import saved_filters, views

app_name = "web"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("filters/", saved_filters.save_filter, name="save-filter"),
    path("filters/<int:pk>/delete/", saved_filters.delete_filter, name="delete-filter"),
    path("incidents/new/", views.report, name="report"),
    path("incidents/new/priority/", views.priority_preview, name="priority-preview"),
    path("incidents/<str:number>/", views.incident_detail, name="incident"),
    path("incidents/<str:number>/transitions/<slug:name>/", views.incident_transition, name="transition"),
    path("incidents/<str:number>/notes/", views.incident_note, name="note"),
    path("incidents/<str:number>/assign/", views.incident_assign, name="assign"),
    path("incidents/<str:number>/escalate/", views.incident_escalate, name="escalate"),
]
