"""Messaging API for the shop's integrations (help desks, CRMs): read the shop's conversations and
their messages, and reply as the shop.

- ``GET /api/v1/shops/{slug}/conversations`` (cursor-paginated, newest first; ``show``, ``q``),
- ``GET …/conversations/{id}``,
- ``GET …/conversations/{id}/messages?after=<message id>&limit=`` (oldest first; poll with the
  ``next_after`` you got to receive only new messages),
- ``POST …/conversations/{id}/messages`` ``{"body"}``: reply as the shop (201 with the message). An
  ``Idempotency-Key`` header makes a retried reply answer the same and send nothing twice.

API keys need the ``messages`` scope; members ``messages.view`` to read and ``messages.reply`` to
reply. Another shop's conversation is a 404, like one that does not exist. Reading through the
API does not mark conversations read: people in the seller portal still see them as unread.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from apps.core.idempotency import HEADER as IDEMPOTENCY_HEADER
from apps.core.idempotency import (
    REPLAYED_HEADER,
    StoredResponse,
    idempotency_key_clean,
    idempotent_response,
    request_fingerprint,
)
from apps.messaging.models import Side
from apps.messaging.selectors import conversation_get_for_shop, inbox_for_shop, messages_for_conversation
from apps.messaging.services import message_send
from apps.shops.api.permissions import shop_permission
from apps.shops.api.serializers import problem_responses
from apps.shops.api.views import SHOP_SLUG_PARAMETER, ShopScopedApiView
from apps.shops.models import ApiKey
from apps.shops.permissions import Perm

from .serializers import (
    ConversationFilterSerializer,
    ConversationOutputSerializer,
    MessageFilterSerializer,
    MessageOutputSerializer,
    MessagePageOutputSerializer,
    ReplyInputSerializer,
)

TAGS = ["messages"]
CONVERSATION_ID_PARAMETER = OpenApiParameter(
    "conversation_id", int, OpenApiParameter.PATH, description="The conversation's id."
)
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Your unique key for this reply (e.g. a UUID): a retry with the same key and body answers the "
    "same and sends nothing more; the same key with another body is a 422.",
)


class ConversationCursorPagination(CursorPagination):
    ordering = ("-last_message_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100


def _principal_key(principal) -> str:
    return f"api_key:{principal.pk}" if isinstance(principal, ApiKey) else f"user:{principal.user_id}"


@extend_schema(tags=TAGS, parameters=[SHOP_SLUG_PARAMETER])
class ConversationListApi(ShopScopedApiView, generics.ListAPIView):
    """The shop's conversations with buyers, the latest message first, each with ``unread`` for
    the shop. API keys need the ``messages`` scope; members ``messages.view``."""

    permission_classes = [shop_permission(Perm.MESSAGES_VIEW)]
    serializer_class = ConversationOutputSerializer
    pagination_class = ConversationCursorPagination

    def get_queryset(self):
        filters = ConversationFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return inbox_for_shop(
            shop=self.shop, show=filters.validated_data["show"], query=filters.validated_data.get("q", "")
        )

    @extend_schema(
        operation_id="shop_conversations_list",
        parameters=[ConversationFilterSerializer],
        responses={200: ConversationOutputSerializer(many=True), **problem_responses(400, 401, 403, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=TAGS, parameters=[SHOP_SLUG_PARAMETER, CONVERSATION_ID_PARAMETER])
class ConversationDetailApi(ShopScopedApiView):
    """One conversation of the shop (404 for another shop's)."""

    permission_classes = [shop_permission(Perm.MESSAGES_VIEW)]

    @extend_schema(
        operation_id="shop_conversations_retrieve",
        responses={200: ConversationOutputSerializer, **problem_responses(401, 403, 404)},
    )
    def get(self, request, shop_slug: str, conversation_id: int):
        conversation = conversation_get_for_shop(shop=self.shop, pk=conversation_id)
        return Response(ConversationOutputSerializer(conversation).data)


@extend_schema(tags=TAGS, parameters=[SHOP_SLUG_PARAMETER, CONVERSATION_ID_PARAMETER])
class ConversationMessagesApi(ShopScopedApiView):
    """The conversation's messages, oldest first, and replying to the buyer as the shop."""

    permission_classes = [shop_permission(Perm.MESSAGES_REPLY, read=Perm.MESSAGES_VIEW)]

    @extend_schema(
        operation_id="shop_conversations_messages_list",
        parameters=[MessageFilterSerializer],
        responses={200: MessagePageOutputSerializer, **problem_responses(400, 401, 403, 404)},
    )
    def get(self, request, shop_slug: str, conversation_id: int):
        conversation = conversation_get_for_shop(shop=self.shop, pk=conversation_id)
        filters = MessageFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        after, limit = filters.validated_data.get("after"), filters.validated_data["limit"]
        found = list(messages_for_conversation(conversation=conversation, after_id=after)[: limit + 1])
        page = found[:limit]
        context = {"request": request, "conversation": conversation}
        return Response(
            {
                "results": MessageOutputSerializer(page, many=True, context=context).data,
                "next_after": page[-1].pk if page else after,
                "has_more": len(found) > limit,
            }
        )

    @extend_schema(
        operation_id="shop_conversations_messages_create",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=ReplyInputSerializer,
        responses={
            201: OpenApiResponse(MessageOutputSerializer, description="Sent to the buyer."),
            **problem_responses(400, 401, 403, 404, 422, 429),
        },
    )
    def post(self, request, shop_slug: str, conversation_id: int):
        conversation = conversation_get_for_shop(shop=self.shop, pk=conversation_id)  # 404 before the body
        key = idempotency_key_clean(request.headers.get(IDEMPOTENCY_HEADER))
        sender = None if isinstance(self.principal, ApiKey) else self.principal.user

        def reply() -> StoredResponse:
            data = ReplyInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            message = message_send(
                conversation=conversation, sender=sender, side=Side.SHOP, body=data.validated_data["body"]
            )
            context = {"request": request, "conversation": conversation}
            return StoredResponse(status=201, body=dict(MessageOutputSerializer(message, context=context).data))

        if key is None:
            answer = reply()
        else:
            answer = idempotent_response(
                key=key,
                principal=_principal_key(self.principal),
                scope=f"POST /api/v1/shops/{self.shop.slug}/conversations/{conversation.pk}/messages",
                fingerprint=request_fingerprint(request.data),
                run=reply,
            )
        headers = {REPLAYED_HEADER: "true"} if answer.replayed else {}
        return Response(answer.body, status=answer.status, headers=headers)


@extend_schema(tags=["messages"], parameters=[SHOP_SLUG_PARAMETER])
class ConversationMessageImageApi(ShopScopedApiView):
    """The image sent with one of the conversation's messages (the bytes, with its content type)."""

    permission_classes = [shop_permission(Perm.MESSAGES_VIEW)]

    @extend_schema(
        operation_id="shop_conversations_messages_image",
        responses={(200, "image/*"): OpenApiResponse(description="The image."), **problem_responses(401, 403, 404)},
    )
    def get(self, request, shop_slug: str, conversation_id: int, message_id: int):
        from apps.messaging.selectors import message_attachment_get_for_shop
        from apps.messaging.views_attachments import attachment_response

        message = message_attachment_get_for_shop(
            shop=self.shop, conversation_id=conversation_id, message_id=message_id
        )
        return attachment_response(message)
