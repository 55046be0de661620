"""Admin pieces shared by every app: the audit-logging ModelAdmin base and the audit log itself."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from .models import AuditLogEntry
from .services import audit_log_record


def _jsonable(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, (models.QuerySet, list, tuple, set)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def client_ip(request) -> str | None:
    """The address an admin request came from, for the audit log (the proxy sets REMOTE_ADDR)."""
    return request.META.get("REMOTE_ADDR") or None


class AuditedModelAdmin(admin.ModelAdmin):
    """Every ModelAdmin of the project inherits this: each add, change and delete made in admin is
    written to the audit log with the changed fields (old and new values), the actor and the IP.
    Secret fields (passwords, keys) are logged as changed without their values."""

    audit_secret_fields: tuple[str, ...] = ("password", "key", "secret", "token")

    def _field_value(self, obj, name: str) -> Any:
        if any(secret in name for secret in self.audit_secret_fields):
            return "***"
        try:
            field = obj._meta.get_field(name)
        except FieldDoesNotExist:  # a form-only field, e.g. a password confirmation
            return None
        if field.many_to_many:
            return None if obj.pk is None else _jsonable(list(getattr(obj, name).values_list("pk", flat=True)))
        return _jsonable(getattr(obj, field.attname, None))

    def save_model(self, request, obj, form, change):
        changed = list(form.changed_data) if form is not None else []
        before = {}
        if change and obj.pk:
            original = type(obj)._default_manager.filter(pk=obj.pk).first()
            if original is not None:
                before = {name: self._field_value(original, name) for name in changed}
        super().save_model(request, obj, form, change)
        diff = {name: {"from": before.get(name), "to": self._field_value(obj, name)} for name in changed}
        audit_log_record(
            actor=request.user,
            action=AuditLogEntry.Action.UPDATE if change else AuditLogEntry.Action.CREATE,
            obj=obj,
            changes=diff,
            ip_address=client_ip(request),
        )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        for formset in formsets:
            if formset.has_changed():
                audit_log_record(
                    actor=request.user,
                    action=AuditLogEntry.Action.UPDATE,
                    obj=form.instance,
                    changes={"inline": formset.prefix, "changed": True},
                    ip_address=client_ip(request),
                )

    def delete_model(self, request, obj):
        audit_log_record(actor=request.user, action=AuditLogEntry.Action.DELETE, obj=obj, ip_address=client_ip(request))
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            audit_log_record(
                actor=request.user, action=AuditLogEntry.Action.DELETE, obj=obj, ip_address=client_ip(request)
            )
        super().delete_queryset(request, queryset)


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(admin.ModelAdmin):
    """The audit log is read-only for everybody, superusers included."""

    list_display = ("created_at", "actor_email", "action", "object_type", "object_repr", "source", "ip_address")
    list_filter = ("action", "source", "object_type")
    search_fields = ("actor_email", "object_repr", "object_id", "request_id")
    date_hierarchy = "created_at"
    list_select_related = ("actor",)
    readonly_fields = [f.name for f in AuditLogEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
