"""Who makes an order move: the platform itself, the buyer, a member or API key of the shop, platform
staff, or a logistics partner. Every door builds one and hands it to ``order_transition``, which
checks it against ``apps.orders.states``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import states


@dataclass(frozen=True)
class Actor:
    kind: str  # an OrderEvent.ActorKind value
    user: Any = None
    principal: Any = None  # the shop's Membership or ApiKey
    label: str = ""

    @classmethod
    def system(cls, label: str = "LocalBazaar") -> Actor:
        return cls("system", label=label)

    @classmethod
    def buyer(cls, user) -> Actor:
        return cls("buyer", user=user, label=getattr(user, "email", ""))

    @classmethod
    def member(cls, membership) -> Actor:
        return cls("member", user=membership.user, principal=membership, label=membership.user.email)

    @classmethod
    def api_key(cls, key) -> Actor:
        return cls("api_key", principal=key, label=f"API key {key.name}")

    @classmethod
    def staff(cls, user) -> Actor:
        return cls("staff", user=user, label=user.email)

    @classmethod
    def logistics(cls, *, label: str, principal=None) -> Actor:
        return cls("logistics", principal=principal, label=label)

    @classmethod
    def for_shop_principal(cls, principal) -> Actor:
        """A member or an API key, as ``@seller_view`` and the shop API resolve them."""
        if hasattr(principal, "role"):
            return cls.member(principal)
        return cls.api_key(principal)

    @property
    def user_id(self):
        return getattr(self.user, "pk", None)

    def may(self, transition: states.Transition, order, *, now) -> bool:
        """Whether this actor may make ``transition`` on ``order`` (the move itself is allowed)."""
        from apps.shops.access import principal_allows

        by = transition.by
        if self.kind == "system":
            return states.SYSTEM in by
        if self.kind == "staff":
            return states.STAFF in by and bool(getattr(self.user, "is_staff", False))
        if self.kind == "buyer":
            if states.BUYER not in by or order.buyer_id is None or order.buyer_id != self.user_id:
                return False
            if transition.source in (states.S.PENDING_PAYMENT, states.S.PAYMENT_FAILED):
                return True
            # After paying, only within the order's cancel window (1-Click).
            return order.cancel_until is not None and now <= order.cancel_until
        if self.kind == "logistics":
            if states.LOGISTICS not in by:
                return False
            shop_id = getattr(self.principal, "shop_id", None)
            return shop_id is None or shop_id == order.shop_id
        if self.kind in ("member", "api_key"):
            if self.principal is None or getattr(self.principal, "shop_id", None) != order.shop_id:
                return False
            return any(
                perm not in states.ACTOR_KINDS and principal_allows(self.principal, perm) for perm in transition.by
            )
        return False
