from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.selectors import user_has_mfa
from apps.accounts.services import user_profile_update

from .serializers import MeInputSerializer, MeOutputSerializer


class MeApi(APIView):
    """The signed-in user's own profile."""

    def _output(self, user):
        user.mfa_enabled = user_has_mfa(user=user)
        return MeOutputSerializer(user).data

    @extend_schema(responses=MeOutputSerializer)
    def get(self, request):
        return Response(self._output(request.user))

    @extend_schema(request=MeInputSerializer, responses=MeOutputSerializer)
    def patch(self, request):
        data = MeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user
        values = {
            "first_name": user.first_name,
            "last_name": user.last_name,
            "preferred_language": user.preferred_language,
            **data.validated_data,
        }
        user_profile_update(user=user, **values)
        return Response(self._output(user))
