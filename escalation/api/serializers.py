from django.contrib.auth import get_user_model
from rest_framework import serializers

from escalation.models import Team

User = get_user_model()


class TeamSerializer(serializers.ModelSerializer):
    members = serializers.SlugRelatedField(
        slug_field="username", many=True, queryset=User.objects.all(), required=False
    )
    managers = serializers.SlugRelatedField(
        slug_field="username", many=True, queryset=User.objects.all(), required=False
    )

    class Meta:
        model = Team
        fields = ["slug", "name", "description", "email", "members", "managers", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
