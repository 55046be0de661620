"""The shop permission matrix: written down once, enforced by one function everywhere.

HTML views (``apps.shops.views.shop_view``), API views (``apps.shops.api.permissions``) and admin all
ask :func:`role_allows`. The README's table is generated from :data:`MATRIX` (``test_readme_matrix``
keeps them equal).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    MANAGER = "manager", _("Manager")
    INVENTORY_MANAGER = "inventory_manager", _("Inventory manager")
    WAREHOUSE_STAFF = "warehouse_staff", _("Warehouse staff")


class Perm(models.TextChoices):
    DASHBOARD_VIEW = "dashboard.view", _("See the dashboard")
    SHOP_EDIT = "shop.edit", _("Edit shop settings")
    STAFF_MANAGE = "staff.manage", _("Invite and remove staff")
    API_KEYS_MANAGE = "api_keys.manage", _("Create and revoke API keys")
    BILLING_MANAGE = "billing.manage", _("Manage the subscription")
    CATALOG_VIEW = "catalog.view", _("See products")
    CATALOG_EDIT = "catalog.edit", _("Create and edit products")
    CATALOG_IMPORT = "catalog.import", _("Import products from CSV")
    STOCK_VIEW = "stock.view", _("See stock")
    STOCK_ADJUST = "stock.adjust", _("Receive, adjust and transfer stock")
    STOCK_ALERTS = "stock.alerts", _("Choose where stock alerts go")
    ORDERS_VIEW = "orders.view", _("See orders")
    ORDERS_FULFIL = "orders.fulfil", _("Pick, pack and hand over orders")
    ORDERS_MANAGE = "orders.manage", _("Accept, cancel and refund orders")
    MESSAGES_VIEW = "messages.view", _("Read buyer messages")
    MESSAGES_REPLY = "messages.reply", _("Reply to buyer messages")
    BOOSTS_MANAGE = "boosts.manage", _("Fund loyalty boosts")


_ALL = frozenset(Perm)

# Stock is moved only by the people who count and shelve it (inventory manager, warehouse staff):
# owners and managers see it and decide where alerts go, so every change has a hands-on actor.
MATRIX: dict[Role, frozenset[Perm]] = {
    Role.OWNER: _ALL - {Perm.STOCK_ADJUST},
    Role.MANAGER: _ALL - {Perm.STAFF_MANAGE, Perm.API_KEYS_MANAGE, Perm.BILLING_MANAGE, Perm.STOCK_ADJUST},
    Role.INVENTORY_MANAGER: frozenset(
        {
            Perm.DASHBOARD_VIEW,
            Perm.CATALOG_VIEW,
            Perm.CATALOG_EDIT,
            Perm.CATALOG_IMPORT,
            Perm.STOCK_VIEW,
            Perm.STOCK_ADJUST,
            Perm.STOCK_ALERTS,
            Perm.ORDERS_VIEW,
            Perm.MESSAGES_VIEW,
        }
    ),
    Role.WAREHOUSE_STAFF: frozenset(
        {
            Perm.DASHBOARD_VIEW,
            Perm.CATALOG_VIEW,
            Perm.STOCK_VIEW,
            Perm.STOCK_ADJUST,
            Perm.ORDERS_VIEW,
            Perm.ORDERS_FULFIL,
        }
    ),
}


def role_allows(role: str | None, perm: str) -> bool:
    """True when ``role`` holds ``perm``. Unknown roles hold nothing."""
    try:
        return Perm(perm) in MATRIX[Role(role)]
    except ValueError:
        return False


def matrix_markdown() -> str:
    """The matrix as a Markdown table (the README embeds this)."""
    roles = list(Role)
    lines = ["| permission | " + " | ".join(str(r.label) for r in roles) + " |"]
    lines.append("|---|" + "---|" * len(roles))
    for perm in Perm:
        marks = " | ".join("✓" if perm in MATRIX[r] else "–" for r in roles)
        lines.append(f"| {perm.label} (`{perm.value}`) | {marks} |")
    return "\n".join(lines)
