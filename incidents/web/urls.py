from django.urls import path

from incidents.web import oncall, postmortem_lists, postmortems, profile, saved_filters, views

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
    # Issue 6, points 1 and 5: the user's profile, on call, and the pages sent to them.
    path("profile/", profile.profile, name="profile"),
    path("profile/language/", profile.set_language, name="set-language"),
    path("profile/calendar/", profile.renew_calendar, name="profile-calendar"),
    path("profile/api-token/", profile.new_api_token, name="profile-token"),
    path("profile/api-token/revoke/", profile.remove_api_token, name="profile-token-revoke"),
    path("profile/contact-methods/", profile.add_contact_method, name="profile-methods"),
    path("profile/contact-methods/<int:pk>/", profile.change_contact_method, name="profile-method"),
    path(
        "profile/contact-methods/<int:pk>/rotate-secret/",
        profile.rotate_contact_secret,
        name="profile-method-rotate",
    ),
    path("profile/contact-methods/<int:pk>/delete/", profile.remove_contact_method, name="profile-method-delete"),
    path("profile/notification-rules/", profile.add_notification_rule, name="profile-rules"),
    path("profile/notification-rules/<int:pk>/", profile.change_notification_rule, name="profile-rule"),
    path("profile/notification-rules/<int:pk>/delete/", profile.remove_notification_rule, name="profile-rule-delete"),
    path("oncall/", oncall.oncall, name="oncall"),
    path("oncall/overrides/", oncall.add_override, name="oncall-override"),
    path("oncall/pages/", oncall.my_pages, name="oncall-pages"),
    path("oncall/pages/<int:pk>/acknowledge/", oncall.acknowledge_page, name="oncall-page-ack"),
]

# --- Issue 6 point 6: the post-mortem editor, published post-mortems, my action items ---
urlpatterns += [
    path("incidents/<str:number>/postmortem/", postmortems.postmortem_editor, name="postmortem"),
    path("incidents/<str:number>/postmortem/start/", postmortems.postmortem_start, name="postmortem-start"),
    path(
        "incidents/<str:number>/postmortem/transitions/<slug:name>/",
        postmortems.postmortem_transition,
        name="postmortem-transition",
    ),
    path(
        "incidents/<str:number>/postmortem/markdown/",
        postmortems.postmortem_markdown_download,
        name="postmortem-markdown",
    ),
    path("incidents/<str:number>/postmortem/timeline/", postmortems.moment_add, name="postmortem-moment-add"),
    path(
        "incidents/<str:number>/postmortem/timeline/regenerate/",
        postmortems.timeline_regenerate,
        name="postmortem-regenerate",
    ),
    path(
        "incidents/<str:number>/postmortem/timeline/<int:moment_id>/",
        postmortems.moment_edit,
        name="postmortem-moment",
    ),
    path(
        "incidents/<str:number>/postmortem/timeline/<int:moment_id>/key/",
        postmortems.moment_key,
        name="postmortem-moment-key",
    ),
    path(
        "incidents/<str:number>/postmortem/timeline/<int:moment_id>/remove/",
        postmortems.moment_remove,
        name="postmortem-moment-remove",
    ),
    path(
        "incidents/<str:number>/postmortem/action-items/",
        postmortems.action_item_add,
        name="postmortem-item-add",
    ),
    path(
        "incidents/<str:number>/postmortem/action-items/<int:item_id>/",
        postmortems.action_item_edit,
        name="postmortem-item",
    ),
    path("postmortems/", postmortem_lists.published_postmortems, name="postmortems"),
    path("action-items/", postmortem_lists.my_action_items, name="action-items"),
    path("action-items/<int:item_id>/status/", postmortem_lists.my_action_item_status, name="action-item-status"),
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
