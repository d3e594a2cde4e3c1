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
    ordering_fields = ["name", "created_at"]
    pagination_class = NamePagination

    def get_queryset(self) -> QuerySet[Team]:
        return Team.objects.prefetch_related("members", "managers")
