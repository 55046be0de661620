from django.conf import settings
from rest_framework import serializers

from apps.accounts.models import User


class MeOutputSerializer(serializers.ModelSerializer):
    mfa_enabled = serializers.BooleanField()

    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "preferred_language", "mfa_enabled", "date_joined"]
        read_only_fields = fields


class MeInputSerializer(serializers.Serializer):
    first_name = serializers.CharField(max_length=150, allow_blank=True, required=False)
    last_name = serializers.CharField(max_length=150, allow_blank=True, required=False)
    preferred_language = serializers.ChoiceField(choices=[code for code, _ in settings.LANGUAGES], required=False)
