from django.contrib import admin

from apps.core.admin import AuditedModelAdmin

from .access import principal_allows
from .models import ApiKey, Invitation, Membership, OpeningHours, Shop, ShopPhoto
from .permissions import Perm


class ShopScopedAdminMixin:
    """Admin with the same permission matrix as the portal and the API.

    Superusers (platform admins) see everything. Any other staff user sees only objects of shops
    where they hold a membership, and may view or change them only if their role allows
    ``admin_view_perm`` / ``admin_change_perm`` (through ``access.principal_allows``).
    """

    shop_lookup = "shop"  # path from the model to its Shop ("" for Shop itself)
    admin_view_perm: str = Perm.DASHBOARD_VIEW
    admin_change_perm: str = Perm.SHOP_EDIT

    def _memberships(self, request) -> list[Membership]:
        if not hasattr(request, "_shop_memberships"):
            request._shop_memberships = list(Membership.objects.filter(user=request.user))
        return request._shop_memberships

    def _shop_ids_allowing(self, request, perm: str) -> list[int]:
        return [m.shop_id for m in self._memberships(request) if principal_allows(m, perm)]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        field = f"{self.shop_lookup}__in" if self.shop_lookup else "pk__in"
        return qs.filter(**{field: self._shop_ids_allowing(request, self.admin_view_perm)})

    def _obj_shop_id(self, obj) -> int | None:
        if obj is None:
            return None
        target = obj
        for part in filter(None, self.shop_lookup.split("__")):
            target = getattr(target, part)
        return target.pk

    def has_module_permission(self, request):
        return request.user.is_superuser or bool(self._shop_ids_allowing(request, self.admin_view_perm))

    def has_view_permission(self, request, obj=None):
        if request.user.is_superuser:
            return True
        allowed = self._shop_ids_allowing(request, self.admin_view_perm)
        return bool(allowed) if obj is None else self._obj_shop_id(obj) in allowed

    def has_change_permission(self, request, obj=None):
        if request.user.is_superuser:
            return True
        allowed = self._shop_ids_allowing(request, self.admin_change_perm)
        return bool(allowed) if obj is None else self._obj_shop_id(obj) in allowed

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


class ShopPhotoInline(admin.TabularInline):
    model = ShopPhoto
    extra = 0


@admin.register(Shop)
class ShopAdmin(ShopScopedAdminMixin, AuditedModelAdmin):
    shop_lookup = ""
    list_display = ("name", "slug", "postcode", "currency", "tenancy", "status", "created_at")
    list_filter = ("status", "tenancy", "currency", "offers_pickup")
    search_fields = ("name", "slug", "postcode", "email")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline, OpeningHoursInline, ShopPhotoInline]


@admin.register(Membership)
class MembershipAdmin(ShopScopedAdminMixin, AuditedModelAdmin):
    admin_view_perm = Perm.STAFF_MANAGE
    admin_change_perm = Perm.STAFF_MANAGE
    list_display = ("user", "shop", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "shop__name")
    list_select_related = ("user", "shop")
    autocomplete_fields = ["user", "shop"]


@admin.register(Invitation)
class InvitationAdmin(AuditedModelAdmin):
    list_display = ("email", "shop", "role", "expires_at", "accepted_at", "revoked_at")
    list_filter = ("role",)
    search_fields = ("email", "shop__name")
    list_select_related = ("shop",)
    exclude = ("token_hash",)
    readonly_fields = ("accepted_at", "accepted_by", "invited_by")


@admin.register(ApiKey)
class ApiKeyAdmin(ShopScopedAdminMixin, AuditedModelAdmin):
    """Keys are created by shop owners in the seller portal (the secret is shown once there);
    admins can see and revoke them, never read or set a secret."""

    list_display = ("name", "shop", "prefix", "scopes", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "shop__name")
    list_select_related = ("shop",)
    exclude = ("key_hash",)
    readonly_fields = ("prefix", "shop", "created_by", "last_used_at")
    admin_view_perm = Perm.API_KEYS_MANAGE
    admin_change_perm = Perm.API_KEYS_MANAGE

    def has_add_permission(self, request):
        return False
