from django.urls import path

from incidents.web import views

app_name = "web"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("incidents/new/", views.report, name="report"),
    path("incidents/new/priority/", views.priority_preview, name="priority-preview"),
    path("incidents/<str:number>/", views.incident_detail, name="incident"),
    path("incidents/<str:number>/transitions/<slug:name>/", views.incident_transition, name="transition"),
    path("incidents/<str:number>/notes/", views.incident_note, name="note"),
    path("incidents/<str:number>/assign/", views.incident_assign, name="assign"),
    path("incidents/<str:number>/escalate/", views.incident_escalate, name="escalate"),
]

# --- Issue 6 point 4: the incident page's sections (incidents/web/incident_sections.py) ---
from incidents.web import incident_sections  # noqa: E402  (kept with its block)

_incident = "incidents/<str:number>/"
urlpatterns += [
    path(f"{_incident}team/", incident_sections.add_role, name="team-add"),
    path(f"{_incident}team/<int:pk>/end/", incident_sections.end_role, name="team-end"),
    path(f"{_incident}team/commander/", incident_sections.name_commander, name="team-commander"),
    path(f"{_incident}team/page/", incident_sections.page_responder, name="team-page"),
    path(f"{_incident}war-room/", incident_sections.meeting_links, name="war-room"),
    path(f"{_incident}tasks/", incident_sections.add_task, name="task-add"),
    path(f"{_incident}tasks/<int:pk>/", incident_sections.change_task, name="task-change"),
    path(f"{_incident}fix-plan/options/", incident_sections.propose_option, name="option-add"),
    path(f"{_incident}fix-plan/options/<int:pk>/", incident_sections.change_option, name="option-change"),
    path(f"{_incident}fix-plan/options/<int:pk>/choose/", incident_sections.choose_option, name="option-choose"),
    path(
        f"{_incident}fix-plan/options/<int:pk>/implementations/",
        incident_sections.record_implementation,
        name="implementation-add",
    ),
    path(f"{_incident}recurrence/", incident_sections.report_recurrence, name="recurrence"),
    path(f"{_incident}updates/", incident_sections.post_update, name="update-add"),
    path(f"{_incident}links/duplicate/", incident_sections.mark_duplicate, name="link-duplicate"),
    path(f"{_incident}links/major/", incident_sections.link_major, name="link-major"),
    path(f"{_incident}attachments/", incident_sections.add_attachment, name="attachment-add"),
]
