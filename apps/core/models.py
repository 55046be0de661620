"""Shared base models and the staff audit log."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    """Abstract base: ``created_at`` and ``updated_at`` kept by the database layer."""

    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


class AuditLogEntry(models.Model):
    """One change a staff member made through a back-office door (Django admin first).

    Append-only: there is no update or delete path, in code or in admin.
    """

    class Action(models.TextChoices):
        CREATE = "create", _("Created")
        UPDATE = "update", _("Changed")
        DELETE = "delete", _("Deleted")
        ACTION = "action", _("Action")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    actor_email = models.CharField(_("actor email"), max_length=254, blank=True)
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    object_type = models.CharField(_("object type"), max_length=100, db_index=True)
    object_id = models.CharField(_("object id"), max_length=64, db_index=True)
    object_repr = models.CharField(_("object"), max_length=200)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    source = models.CharField(_("source"), max_length=32, default="admin")
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=128, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        indexes = [models.Index(fields=["object_type", "object_id", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.actor_email or '-'} {self.action} {self.object_type}#{self.object_id}"


class IdempotencyRecord(models.Model):
    """The stored answer to a POST sent with an ``Idempotency-Key`` header (see
    ``apps.core.idempotency``): the same key, from the same caller, on the same route and with the
    same body gets this answer again instead of doing the work twice."""

    key = models.CharField(_("idempotency key"), max_length=255)
    principal = models.CharField(_("caller"), max_length=100)  # "api_key:<id>" or "user:<id>"
    scope = models.CharField(_("route"), max_length=200)  # e.g. "POST /api/v1/orders"
    request_hash = models.CharField(_("body SHA-256"), max_length=64)
    response_status = models.PositiveSmallIntegerField(_("response status"))
    response_body = models.JSONField(_("response body"), default=dict, blank=True)
    response_headers = models.JSONField(_("response headers"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [
            models.UniqueConstraint(fields=["principal", "scope", "key"], name="idempotency_record_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.principal} {self.scope} {self.key}"
