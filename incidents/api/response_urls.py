"""Routes of response coordination, nested under /api/v1/incidents/{number}/."""

from django.urls import URLPattern, path

from incidents.api import response

urlpatterns: list[URLPattern] = [
    path("roles/", response.ResponseTeamView.as_view(), name="incident-roles"),
    path("roles/page/", response.PageResponderView.as_view(), name="incident-roles-page"),
    path("roles/<int:pk>/", response.ResponseRoleView.as_view(), name="incident-role"),
    path("tasks/", response.TaskListView.as_view(), name="incident-tasks"),
    path("tasks/<int:pk>/", response.TaskView.as_view(), name="incident-task"),
    path("plan/", response.FixPlanView.as_view(), name="incident-plan"),
    path("plan/options/", response.OptionListView.as_view(), name="incident-plan-options"),
    path("plan/options/<int:pk>/", response.OptionView.as_view(), name="incident-plan-option"),
    path("plan/options/<int:pk>/choose/", response.ChooseOptionView.as_view(), name="incident-plan-option-choose"),
    path("plan/implementations/", response.ImplementationListView.as_view(), name="incident-plan-implementations"),
]
