from django.urls import path

from reports.web import views

app_name = "reports"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
