"""Messaging in the admin: read-only. Conversations change through the services (the buyer's and
the shop's pages, the API); moderation happens in the back office (``/backoffice/messages/``).
Staff who are not superusers see only conversations of shops where their role reads messages."""

from django.contrib import admin

from apps.core.admin import AuditedModelAdmin
from apps.shops.admin import ShopScopedAdminMixin
from apps.shops.permissions import Perm

from .models import BuyerBlock, Conversation, ConversationReport, Message


class _ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MessageInline(_ReadOnly, admin.TabularInline):
    model = Message
    fields = ("created_at", "side", "sender", "body", "attachment", "edited_at")
    readonly_fields = fields
    extra = 0


@admin.register(Conversation)
class ConversationAdmin(_ReadOnly, ShopScopedAdminMixin, AuditedModelAdmin):
    admin_view_perm = Perm.MESSAGES_VIEW
    admin_change_perm = Perm.MESSAGES_REPLY
    list_display = ("id", "last_message_at", "shop", "buyer", "subject_key", "messages_count", "archived_by_shop")
    list_filter = ("subject", "archived_by_shop")
    search_fields = ("buyer__email", "shop__slug", "subject_key", "order__number")
    list_select_related = ("shop", "buyer")
    show_full_result_count = False
    readonly_fields = [f.name for f in Conversation._meta.fields]
    inlines = [MessageInline]


@admin.register(ConversationReport)
class ConversationReportAdmin(_ReadOnly, ShopScopedAdminMixin, AuditedModelAdmin):
    shop_lookup = "conversation__shop"
    admin_view_perm = Perm.MESSAGES_VIEW
    admin_change_perm = Perm.MESSAGES_REPLY
    list_display = ("created_at", "conversation", "reporter_side", "reason", "status", "resolved_by")
    list_filter = ("status", "reporter_side")
    search_fields = ("reason", "conversation__shop__slug", "reporter__email")
    list_select_related = ("conversation__shop", "conversation__buyer", "resolved_by")
    readonly_fields = [f.name for f in ConversationReport._meta.fields]


@admin.register(BuyerBlock)
class BuyerBlockAdmin(_ReadOnly, ShopScopedAdminMixin, AuditedModelAdmin):
    admin_view_perm = Perm.MESSAGES_VIEW
    admin_change_perm = Perm.MESSAGES_REPLY
    list_display = ("created_at", "shop", "buyer", "blocked_by", "reason")
    search_fields = ("buyer__email", "shop__slug")
    list_select_related = ("shop", "buyer", "blocked_by")
    readonly_fields = [f.name for f in BuyerBlock._meta.fields]
