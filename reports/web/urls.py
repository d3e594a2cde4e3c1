from django.urls import path

from reports.web import subscriptions, views

app_name = "reports"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("subscriptions/", subscriptions.subscribe, name="subscribe"),
    path("subscriptions/<int:pk>/delete/", subscriptions.unsubscribe, name="unsubscribe"),
]
