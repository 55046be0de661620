"""Seller-side writes on orders: cancelling (money back and stock back), taking goods back, moving many
orders at once, and refunding or cancelling single lines.

Every status change still goes through ``services.order_transition`` (which checks the move and the
actor); money goes back only through ``services.order_refund``, so the payment, the shop's payout
ledger, the ``order_refunded`` signal (credit notes) and the timeline follow. Each function is one
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from apps.core.errors import ApplicationError
from apps.core.money import Money
from apps.core.services import email_send
from apps.inventory.services import reservation_release, stock_return
from apps.payments.errors import PaymentError
from apps.payments.selectors import payment_get_by_reference
from apps.payments.services import payment_cancel
from apps.shops.access import principal_allows
from apps.shops.permissions import Perm

from .actors import Actor
from .errors import FulfilmentError, TransitionNotAllowed
from .models import Order, OrderLine, OrderRefund, PaymentMethod
from .selectors import order_money_taken
from .services import order_refund, order_transition
from .states import LineStatus

S = Order.Status

# A line the shop cannot supply may be cancelled until the order is packed.
LINE_CANCELLABLE = frozenset({S.PAID, S.CONFIRMED, S.ACCEPTED})
# What the queue's bulk actions may do to the selected orders.
BULK_TARGETS = (S.ACCEPTED, S.PACKED, S.READY_FOR_PICKUP, S.OUT_FOR_DELIVERY, S.CANCELLED)
BULK_MAX = 100
# payments.Refund.reason is at most 200 characters.
REFUND_REASON_MAX = 200
CENT = Decimal("0.01")


@dataclass
class BulkResult:
    """What a bulk action did: the numbers moved, and (number, message) for each one that was not."""

    done: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


# --- helpers -------------------------------------------------------------------------------------


def _locked(order: Order) -> Order:
    return Order.objects.select_for_update(of=("self",)).select_related("shop", "checkout", "buyer").get(pk=order.pk)


def _require_manage(actor: Actor, order: Order) -> None:
    """Refunding or cancelling lines needs ``orders.manage`` in the order's shop (or platform staff)."""
    if actor.kind == "system":
        return
    if actor.kind == "staff" and getattr(actor.user, "is_staff", False):
        return
    principal = actor.principal
    if (
        actor.kind in ("member", "api_key")
        and principal is not None
        and getattr(principal, "shop_id", None) == order.shop_id
        and principal_allows(principal, Perm.ORDERS_MANAGE)
    ):
        return
    raise TransitionNotAllowed(
        _("Your role in this shop may not refund or cancel items of order %(number)s. Ask a manager or the owner.")
        % {"number": order.number}
    )


def _reason(reason: str, *, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise FulfilmentError(_("Give a reason for %(what)s (the buyer sees it).") % {"what": what}, code="reason")
    return reason


def _payment_reference(order: Order) -> str:
    if order.payment_method == PaymentMethod.PAY_ON_PICKUP or order.checkout_id is None:
        return order.number
    return order.checkout.number


def _money_taken(order: Order) -> bool:
    return order_money_taken(order=order)


def _refund_reference(order: Order, refund_key: str) -> str:
    # The reference ``order_refund`` gives a refund made with ``refund_key``.
    return f"{order.number}-{refund_key}"[:100]


def _already_refunded(order: Order, refund_key: str) -> bool:
    return bool(refund_key) and OrderRefund.objects.filter(reference=_refund_reference(order, refund_key)).exists()


def _share(order: Order, gross: Decimal) -> Decimal:
    """What ``gross`` of line prices was actually paid: an order discount is shared out over its lines."""
    if order.discount and order.subtotal:
        return (gross * order.total / order.subtotal).quantize(CENT, rounding=ROUND_HALF_UP)
    return gross


def _restock_rest(order: Order, *, user, reason: str) -> None:
    """Put back on the shelf every unit of the order that has not come back yet."""
    if order.restocked:
        return
    for line in order.lines.select_for_update(of=("self",)).select_related("variant__shop"):
        back = line.quantity - line.quantity_returned
        if back <= 0:
            continue
        if line.variant is not None:
            stock_return(variant=line.variant, quantity=back, actor=user, reason=reason, reference=order.number)
        line.quantity_returned = line.quantity
        line.save(update_fields=["quantity_returned"])
    order.restocked = True
    order.save(update_fields=["restocked", "updated_at"])


def _lines_set_status(order: Order, status: str) -> None:
    """Lines still being fulfilled take the order's outcome (refunded and cancelled lines keep theirs)."""
    order.lines.exclude(status__in=(LineStatus.REFUNDED, LineStatus.CANCELLED)).update(status=status)


def _cancel_email(order: Order, *, reason: str, refunded: Decimal) -> None:
    from django.template.loader import render_to_string

    if not order.contact_email:
        return
    context = {"order": order, "reason": reason, "refunded": refunded, "site_url": settings.SITE_URL}
    with translation.override(order.contact_language):
        email_send(
            to=[order.contact_email],
            subject=_("Your order %(number)s is cancelled") % {"number": order.number},
            body=render_to_string("orders/email/order_cancelled_by_shop.txt", context),
        )


# --- whole orders --------------------------------------------------------------------------------


@transaction.atomic
def order_cancel_by_shop(*, order: Order, actor: Actor, reason: str, via: str = "seller") -> Order:
    """The shop cancels ``order`` with a reason the buyer sees.

    The move is checked by ``order_transition`` (from paid, confirmed, accepted, packed, ready for
    pickup or a failed delivery; ``orders.manage`` only). A paid order is refunded in full and its
    goods go back in stock; a pay-on-pickup order that was never paid at the counter just has its
    stock put back and its payment cancelled. The buyer is emailed once.
    """
    order = _locked(order)
    reason = (reason or "").strip()
    order_transition(order=order, to=S.CANCELLED, actor=actor, reason=reason, via=via, locked=True)
    # Held units (an order still awaiting payment) go straight back on sale; sold ones come back below.
    reservation_release(reference=order.number, reason="cancelled by the shop")
    refunded = Decimal("0")
    left = order.total - order.amount_refunded
    if _money_taken(order):
        if left > 0:
            order = order_refund(
                order=order,
                amount=Money(left, order.currency),
                reason=reason[:REFUND_REASON_MAX],
                actor=actor.user,
                goods_returned=True,
                refund_key="cancel",
                notify=False,  # the cancellation email says it
                via=via,
            )
            refunded = left
        _restock_rest(order, user=actor.user, reason="order cancelled")
    else:
        _restock_rest(order, user=actor.user, reason="order cancelled")
        payment = payment_get_by_reference(reference=_payment_reference(order))
        if payment is not None:
            try:
                payment_cancel(payment=payment, reason="order cancelled by the shop")
            except PaymentError as exc:
                raise FulfilmentError(exc.message) from exc
    _lines_set_status(order, LineStatus.CANCELLED)
    _cancel_email(order, reason=reason, refunded=refunded)
    return order


@transaction.atomic
def order_return_by_shop(
    *, order: Order, actor: Actor, reason: str, refund: bool = False, refund_key: str = "", via: str = "seller"
) -> Order:
    """The goods of a delivered (or failed-delivery, or completed) order came back to the shop: the
    order becomes *returned* (``order_transition`` checks the move, ``orders.manage`` only), every
    unit not yet back goes back in stock, and with ``refund`` what is left of the money is refunded
    (the order then becomes *refunded*)."""
    order = _locked(order)
    reason = (reason or "").strip()
    order_transition(order=order, to=S.RETURNED, actor=actor, reason=reason, via=via, locked=True)
    left = order.total - order.amount_refunded
    if refund and left > 0:
        if not _money_taken(order):
            raise FulfilmentError(
                _("Order %(number)s was never paid: there is nothing to refund.") % {"number": order.number}
            )
        order = order_refund(
            order=order,
            amount=Money(left, order.currency),
            reason=reason[:REFUND_REASON_MAX],
            actor=actor.user,
            goods_returned=True,
            refund_key=refund_key or "return",
            via=via,
        )
    _restock_rest(order, user=actor.user, reason="goods returned")
    _lines_set_status(order, LineStatus.RETURNED)
    return order


def order_move(
    *,
    order: Order,
    to: str,
    actor: Actor,
    reason: str = "",
    via: str = "seller",
    refund: bool = False,
    refund_key: str = "",
) -> Order:
    """One move of an order as the shop, staff or an integration asks for it, with what the move
    means beyond the status: cancelling refunds and restocks (``order_cancel_by_shop``), a return puts
    the goods back (``order_return_by_shop``); every other move is ``order_transition`` alone. The
    seller portal, the back office and the API all call this, so a cancel means the same everywhere."""
    if to == S.CANCELLED:
        return order_cancel_by_shop(order=order, actor=actor, reason=reason, via=via)
    if to == S.RETURNED:
        return order_return_by_shop(
            order=order, actor=actor, reason=reason, refund=refund, refund_key=refund_key, via=via
        )
    order_transition(order=order, to=to, actor=actor, reason=reason, via=via)
    return order


@transaction.atomic
def orders_transition_bulk(
    *, shop, numbers: list[str], to: str, actor: Actor, reason: str = "", via: str = "seller"
) -> BulkResult:
    """Move many of ``shop``'s orders to ``to`` (accept, pack, ready for pickup, hand over, cancel with
    a reason) in one request. Each order is moved in its own savepoint with the same checks as one
    at a time, so an order that cannot move is reported with the reason and the others still move.
    Numbers that are not this shop's are reported as not found and never touched."""
    if to not in BULK_TARGETS:
        raise FulfilmentError(_("Choose what to do with the selected orders."), code="bulk-action")
    wanted = list(dict.fromkeys((n or "").strip().upper() for n in numbers if (n or "").strip()))
    if not wanted:
        raise FulfilmentError(_("Select at least one order."), code="bulk-empty")
    if len(wanted) > BULK_MAX:
        raise FulfilmentError(_("Select at most %(max)s orders at a time.") % {"max": BULK_MAX}, code="bulk-too-many")
    found = {o.number: o for o in Order.objects.filter(shop=shop, number__in=wanted)}
    result = BulkResult()
    # Orders are locked one at a time in a fixed order, so two bulk actions never deadlock.
    for number in sorted(wanted):
        order = found.get(number)
        if order is None:
            result.failed.append((number, _("Order %(number)s was not found in this shop.") % {"number": number}))
            continue
        try:
            with transaction.atomic():
                order_move(order=order, to=to, actor=actor, reason=reason, via=via)
        except ApplicationError as exc:
            result.failed.append((number, exc.message))
        else:
            result.done.append(number)
    return result


# --- single lines --------------------------------------------------------------------------------


def _line_details(pairs: list[tuple[OrderLine, int]], **extra) -> dict:
    return {
        "lines": [{"sku": line.sku, "title": line.title, "quantity": quantity} for line, quantity in pairs],
        **extra,
    }


def _refund_amount(order: Order, lines: list[OrderLine], wanted: dict[int, int]) -> Decimal:
    """The money for ``wanted`` units of ``lines`` (unit prices, less the order's discount share); the
    last units of the order take whatever is left, so rounding never strands a cent."""
    gross = sum((line.unit_price * wanted.get(line.pk, 0) for line in lines), Decimal("0"))
    amount = _share(order, gross)
    left = order.total - order.amount_refunded
    everything = all(line.quantity_refunded + wanted.get(line.pk, 0) >= line.quantity for line in lines)
    if everything or amount > left:
        amount = left
    if amount <= 0:
        raise FulfilmentError(
            _("Nothing is left to refund on order %(number)s.") % {"number": order.number}, code="refund-amount"
        )
    return amount


@transaction.atomic
def order_lines_refund(
    *,
    order: Order,
    quantities: dict[int, int],
    actor: Actor,
    reason: str,
    goods_returned: bool = False,
    refund_key: str = "",
    via: str = "seller",
) -> Order:
    """Refund chosen units of an order's lines (``quantities``: line id → units). The amount is the
    lines' unit prices times the units (less the order's discount share), refunded with
    ``order_refund``; each line's ``quantity_refunded`` and status (partly refunded, refunded) follow.
    With ``goods_returned`` exactly those units go back in stock (``quantity_returned``).
    ``refund_key`` makes a retried request refund once."""
    _require_manage(actor, order)
    order = _locked(order)
    if _already_refunded(order, refund_key):
        return order
    reason = _reason(reason, what=_("the refund"))
    lines = list(order.lines.select_for_update(of=("self",)).select_related("variant__shop"))
    by_id = {line.pk: line for line in lines}
    wanted: dict[int, int] = {}
    for line_id, quantity in quantities.items():
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise FulfilmentError(_("Enter a whole number of items to refund, 0 or more."), code="quantity")
        if quantity == 0:
            continue
        line = by_id.get(line_id)
        if line is None:
            raise FulfilmentError(
                _("That item is not on order %(number)s: reload the page.") % {"number": order.number},
                code="line-not-found",
            )
        refundable = 0 if line.status == LineStatus.CANCELLED else line.quantity - line.quantity_refunded
        if quantity > refundable:
            raise FulfilmentError(
                _("You can refund at most %(count)s of %(sku)s on order %(number)s.")
                % {"count": refundable, "sku": line.sku, "number": order.number},
                code="quantity",
            )
        wanted[line_id] = quantity
    if not wanted:
        raise FulfilmentError(_("Choose how many of which items to refund."), code="quantity")
    amount = _refund_amount(order, lines, wanted)
    pairs = [(by_id[line_id], quantity) for line_id, quantity in wanted.items()]
    order = order_refund(
        order=order,
        amount=Money(amount, order.currency),
        reason=reason[:REFUND_REASON_MAX],
        actor=actor.user,
        refund_key=refund_key,
        via=via,
        details=_line_details(pairs, goods_returned=goods_returned),
    )
    for line, quantity in pairs:
        line.quantity_refunded += quantity
        line.status = LineStatus.REFUNDED if line.quantity_refunded == line.quantity else LineStatus.PARTIALLY_REFUNDED
        fields = ["quantity_refunded", "status"]
        if goods_returned:
            back = min(quantity, line.quantity - line.quantity_returned)
            if back > 0 and line.variant is not None:
                stock_return(
                    variant=line.variant, quantity=back, actor=actor.user, reason="refunded", reference=order.number
                )
            line.quantity_returned += back
            fields.append("quantity_returned")
        line.save(update_fields=fields)
    _restocked_follow(order, lines)
    return order


def _restocked_follow(order: Order, lines: list[OrderLine]) -> None:
    if not order.restocked and all(line.quantity_returned >= line.quantity for line in lines):
        order.restocked = True
        order.save(update_fields=["restocked", "updated_at"])


@transaction.atomic
def order_line_cancel(*, order: Order, line_id: int, actor: Actor, reason: str, via: str = "seller") -> Order:
    """Cancel a line the shop cannot supply, before the order is packed: the units not yet refunded
    are refunded (``order_refund``), the line becomes *cancelled* and its units go back in stock.
    Cancelling a cancelled line again does nothing. A pay-on-pickup order not yet paid at the counter
    cannot lose a line (its payment is for the whole order): cancel the order instead."""
    _require_manage(actor, order)
    order = _locked(order)
    line = order.lines.select_for_update(of=("self",)).select_related("variant__shop").filter(pk=line_id).first()
    if line is None:
        raise FulfilmentError(
            _("That item is not on order %(number)s: reload the page.") % {"number": order.number},
            code="line-not-found",
        )
    if line.status == LineStatus.CANCELLED:
        return order
    if order.status not in LINE_CANCELLABLE:
        raise FulfilmentError(
            _("Order %(number)s is %(status)s: items can only be cancelled before the order is packed.")
            % {"number": order.number, "status": order.get_status_display()},
            code="line-not-cancellable",
        )
    reason = _reason(reason, what=_("cancelling the item"))
    lines = list(order.lines.select_for_update().order_by("pk"))
    quantity = line.quantity - line.quantity_refunded
    if quantity > 0:
        if not _money_taken(order):
            raise FulfilmentError(
                _(
                    "Order %(number)s is paid at the counter and has not been paid yet: take the payment first, "
                    "or cancel the whole order."
                )
                % {"number": order.number},
                code="not-paid",
            )
        amount = _refund_amount(order, lines, {line.pk: quantity})
        order = order_refund(
            order=order,
            amount=Money(amount, order.currency),
            reason=reason[:REFUND_REASON_MAX],
            actor=actor.user,
            refund_key=f"cancel-line-{line.pk}",
            via=via,
            details=_line_details([(line, quantity)], cancelled=True),
        )
    back = line.quantity - line.quantity_returned
    if back > 0 and line.variant is not None:
        stock_return(
            variant=line.variant, quantity=back, actor=actor.user, reason="item cancelled", reference=order.number
        )
    line.quantity_refunded = line.quantity
    line.quantity_returned = line.quantity
    line.status = LineStatus.CANCELLED
    line.save(update_fields=["quantity_refunded", "quantity_returned", "status"])
    _restocked_follow(order, [line if other.pk == line.pk else other for other in lines])
    return order
