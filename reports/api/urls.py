from django.urls import path

from reports.api.views import SummaryView

urlpatterns = [
    path("summary/", SummaryView.as_view(), name="reports-summary"),
]
