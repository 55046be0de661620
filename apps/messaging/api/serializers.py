"""Messaging API: inputs and outputs of the shop's conversations and messages."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.messaging.models import Conversation, Side
from apps.messaging.selectors import INBOX_FILTERS, message_is_read
from apps.shops.api.serializers import StrictInputSerializer

BODY_MAX_CHARS = 4000
MESSAGES_PAGE_DEFAULT = 100
MESSAGES_PAGE_MAX = 200


class ConversationFilterSerializer(serializers.Serializer):
    show = serializers.ChoiceField(
        choices=[s for s in INBOX_FILTERS if s != "mine"],
        required=False,
        default="all",
        help_text="`all` (not archived), `unread`, `with_order` or `archived`.",
    )
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Words in the buyer's name or email, the product's title or the messages; or an order number.",
    )


class MessageFilterSerializer(serializers.Serializer):
    after = serializers.IntegerField(
        required=False, min_value=0, help_text="Only the messages after this message id (the `next_after` you got)."
    )
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MESSAGES_PAGE_MAX,
        default=MESSAGES_PAGE_DEFAULT,
        help_text=f"At most this many messages (1–{MESSAGES_PAGE_MAX}).",
    )


class ReplyInputSerializer(StrictInputSerializer):
    body = serializers.CharField(
        max_length=BODY_MAX_CHARS, help_text="Plain text (links become clickable for the buyer; nothing else)."
    )


class PartyOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")


class ConversationOutputSerializer(serializers.ModelSerializer):
    buyer = PartyOutputSerializer(help_text="The buyer (their name; write to them through this conversation).")
    product = serializers.SerializerMethodField(help_text="The product it is about, if any.")
    order = serializers.SerializerMethodField(help_text="The number of the order it is about, if any.")
    unread = serializers.SerializerMethodField(help_text="The buyer or support wrote since the shop last read it.")
    assigned_to = serializers.SerializerMethodField(help_text="The member it is assigned to (email), if any.")
    archived = serializers.BooleanField(source="archived_by_shop")

    class Meta:
        model = Conversation
        fields = [
            "id",
            "subject",
            "subject_key",
            "buyer",
            "product",
            "order",
            "last_message_at",
            "last_message_preview",
            "messages_count",
            "unread",
            "archived",
            "assigned_to",
            "buyer_last_read_at",
            "shop_last_read_at",
            "created_at",
        ]

    @extend_schema_field(
        {"type": "object", "nullable": True, "properties": {"id": {"type": "integer"}, "title": {"type": "string"}}}
    )
    def get_product(self, conversation) -> dict | None:
        if conversation.product is None:
            return None
        return {"id": conversation.product.pk, "title": conversation.product.title}

    def get_order(self, conversation) -> str | None:
        return conversation.order.number if conversation.order is not None else None

    def get_unread(self, conversation) -> bool:
        unread = getattr(conversation, "unread", None)
        if unread is not None:
            return bool(unread)
        read = conversation.shop_last_read_at
        return read is None or conversation.last_message_at > read

    def get_assigned_to(self, conversation) -> str | None:
        return conversation.assigned_to.email if conversation.assigned_to is not None else None


class MessageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    side = serializers.ChoiceField(choices=Side.choices, help_text="Who wrote it: the buyer, the shop or support.")
    sender = serializers.SerializerMethodField(help_text="The writer's name (empty for an API key).")
    body = serializers.CharField(help_text="Plain text, as written.")
    attachment = serializers.SerializerMethodField(help_text="The image's address, if any.")
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    read = serializers.SerializerMethodField(help_text="Read receipt: the other side has read up to it.")

    def get_sender(self, message) -> str:
        return message.sender.display_name if message.sender is not None else ""

    def get_attachment(self, message) -> str | None:
        if not message.attachment:
            return None
        from django.urls import reverse

        conversation = self.context["conversation"]
        url = reverse(
            "api:messaging:shop-conversation-message-image",
            args=[conversation.shop.slug, conversation.pk, message.pk],
        )
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url

    def get_read(self, message) -> bool:
        return message_is_read(message, self.context["conversation"])


class MessagePageOutputSerializer(serializers.Serializer):
    results = MessageOutputSerializer(many=True)
    next_after = serializers.IntegerField(
        allow_null=True,
        help_text="Send as `after` next time to get only newer messages (the last id returned, or your `after`).",
    )
    has_more = serializers.BooleanField(help_text="More messages are waiting after these: ask again at once.")
