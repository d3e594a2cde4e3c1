from django.db.models import QuerySet
from rest_framework import viewsets
from rest_framework.permissions import IsAuthenticated

from escalation.api.serializers import TeamSerializer
from escalation.models import Team
from incidents.api.views import ModelPermissionsWithView, NamePagination


class TeamViewSet(viewsets.ModelViewSet):
    serializer_class = TeamSerializer
    permission_classes = [IsAuthenticated, ModelPermissionsWithView]
    lookup_field = "slug"
    # Only what a SlugField holds reaches the database (a NUL in the URL is a 404, not a DataError).
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    ordering_fields = ["name", "created_at"]
    pagination_class = NamePagination

    def get_queryset(self) -> QuerySet[Team]:
        return Team.objects.prefetch_related("members", "managers")
