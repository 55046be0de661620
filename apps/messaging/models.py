"""Buyer–seller messaging.

A *conversation* is one buyer talking to one shop about one subject: the shop itself, a product or
an order (``subject_key`` makes it unique per buyer and shop: later messages continue it). The shop's
staff share its inbox. Read receipts and unread counts come from each side's ``*_last_read_at``.
Only the buyer, the shop's staff (by the permission matrix) and platform support may read a
conversation; everyone else gets a 404.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.catalog.models import Product
from apps.core.models import TimeStampedModel
from apps.orders.models import Order
from apps.shops.models import Shop


class Side(models.TextChoices):
    BUYER = "buyer", _("Buyer")
    SHOP = "shop", _("Shop")
    STAFF = "staff", _("LocalBazaar support")


class Conversation(TimeStampedModel):
    class Subject(models.TextChoices):
        SHOP = "shop", _("The shop")
        PRODUCT = "product", _("A product")
        ORDER = "order", _("An order")

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="conversations")
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("buyer"), on_delete=models.CASCADE, related_name="conversations"
    )
    subject = models.CharField(_("about"), max_length=10, choices=Subject.choices, default=Subject.SHOP)
    # "shop", "product:<id>" or "order:<id>": one conversation per buyer, shop and subject.
    subject_key = models.CharField(_("subject key"), max_length=40)
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.SET_NULL, null=True, blank=True, related_name="conversations"
    )
    last_message_at = models.DateTimeField(_("last message"), db_index=True)
    last_message_preview = models.CharField(_("last message"), max_length=160, blank=True)
    messages_count = models.PositiveIntegerField(_("messages"), default=0)
    buyer_last_read_at = models.DateTimeField(_("buyer read up to"), null=True, blank=True)
    shop_last_read_at = models.DateTimeField(_("shop read up to"), null=True, blank=True)
    # The last message of each side (unread counts compare them with the other side's read time).
    last_buyer_message_at = models.DateTimeField(null=True, blank=True)
    last_shop_message_at = models.DateTimeField(null=True, blank=True)
    archived_by_shop = models.BooleanField(_("archived"), default=False)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    buyer_unsubscribed = models.BooleanField(_("buyer gets no emails"), default=False)
    shop_unsubscribed = models.BooleanField(_("shop gets no emails"), default=False)
    # When each side was last emailed about unread messages (one email per quiet period).
    buyer_notified_at = models.DateTimeField(null=True, blank=True)
    shop_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        constraints = [
            models.UniqueConstraint(fields=["buyer", "shop", "subject_key"], name="conversation_one_per_subject"),
        ]
        indexes = [
            models.Index(fields=["shop", "archived_by_shop", "-last_message_at"], name="conversation_inbox"),
            models.Index(fields=["buyer", "-last_message_at"], name="conversation_buyer"),
        ]

    def __str__(self) -> str:
        return f"{self.buyer} ↔ {self.shop} ({self.subject_key})"


class Message(models.Model):
    """Plain text (rendered safely: links made clickable, nothing else interpreted), optionally one
    checked image. Editable by its sender for ``MESSAGING_EDIT_WINDOW_SECONDS``."""

    conversation = models.ForeignKey(
        Conversation, verbose_name=_("conversation"), on_delete=models.CASCADE, related_name="messages"
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sender"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    side = models.CharField(_("from"), max_length=8, choices=Side.choices)
    body = models.TextField(_("message"), blank=True)
    attachment = models.ImageField(_("image"), upload_to="messages/%Y/%m/", blank=True)
    created_at = models.DateTimeField(_("sent"), db_index=True)
    edited_at = models.DateTimeField(_("edited"), null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [models.Index(fields=["conversation", "created_at"], name="message_thread")]
        constraints = [
            models.CheckConstraint(condition=~Q(body="") | ~Q(attachment=""), name="message_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.side}: {self.body[:40]}"


class ConversationReport(TimeStampedModel):
    """Someone in a conversation reported it (spam, abuse…): platform staff moderate it."""

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("report status", "Open")
        DISMISSED = "dismissed", _("Dismissed")
        ACTIONED = "actioned", _("Action taken")

    conversation = models.ForeignKey(
        Conversation, verbose_name=_("conversation"), on_delete=models.CASCADE, related_name="reports"
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("reported by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    reporter_side = models.CharField(_("reported by"), max_length=8, choices=Side.choices)
    reason = models.CharField(_("reason"), max_length=500)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("resolved by"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    note = models.CharField(_("moderator's note"), max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("conversation report")
        verbose_name_plural = _("conversation reports")

    def __str__(self) -> str:
        return f"report {self.pk} on {self.conversation_id}"


class BuyerBlock(TimeStampedModel):
    """A shop no longer takes messages from this buyer."""

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="buyer_blocks")
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("buyer"), on_delete=models.CASCADE, related_name="+"
    )
    blocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("blocked by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("blocked buyer")
        verbose_name_plural = _("blocked buyers")
        constraints = [models.UniqueConstraint(fields=["shop", "buyer"], name="buyer_block_once")]

    def __str__(self) -> str:
        return f"{self.buyer} blocked by {self.shop}"
