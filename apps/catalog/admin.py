from django.contrib import admin

from apps.core.admin import AuditedModelAdmin
from apps.shops.admin import ShopScopedAdminMixin
from apps.shops.permissions import Perm

from .models import Category, ImportJob, Product, ProductImage, Tag, Variant


@admin.register(Category)
class CategoryAdmin(AuditedModelAdmin):
    list_display = ("name", "slug", "parent", "position")
    list_select_related = ("parent",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Tag)
class TagAdmin(AuditedModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name",)


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0
    fields = ("sku", "options", "price", "compare_at_price", "weight_grams", "is_active", "position")


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    extra = 0
    fields = ("image", "alt_text", "position", "thumbnail_status")
    readonly_fields = ("thumbnail_status",)


@admin.register(Product)
class ProductAdmin(ShopScopedAdminMixin, AuditedModelAdmin):
    admin_view_perm = Perm.CATALOG_VIEW
    admin_change_perm = Perm.CATALOG_EDIT
    list_display = ("title", "shop", "category", "status", "published_at")
    list_filter = ("status", "category")
    search_fields = ("title", "shop__name", "variants__sku")
    list_select_related = ("shop", "category")
    autocomplete_fields = ["shop", "category", "tags"]
    inlines = [VariantInline, ProductImageInline]

    def save_formset(self, request, form, formset, change):
        # Variants belong to the product's shop (the SKU is unique per shop).
        instances = formset.save(commit=False)
        for instance in instances:
            if isinstance(instance, Variant):
                instance.shop = form.instance.shop
            instance.save()
        for obj in formset.deleted_objects:
            obj.delete()
        formset.save_m2m()


@admin.register(ImportJob)
class ImportJobAdmin(ShopScopedAdminMixin, AuditedModelAdmin):
    admin_view_perm = Perm.CATALOG_IMPORT
    admin_change_perm = Perm.CATALOG_IMPORT
    list_display = ("original_name", "shop", "status", "processed_rows", "total_rows", "created_at")
    list_filter = ("status",)
    list_select_related = ("shop",)
    readonly_fields = [f.name for f in ImportJob._meta.fields]

    def has_add_permission(self, request):
        return False
