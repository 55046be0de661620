"""Buyer pages: saved cards (``/accounts/cards/``) and the page Stripe sends a buyer back to after
confirming a card payment (``/payments/return/``).

Adding a card: the page shows Stripe's Payment Element (``static/payments/card_setup.js``, no
inline script) for a SetupIntent; Stripe.js confirms it and sends the buyer back to
``cards/added/?setup_intent=…``, where the server reads the SetupIntent and its card from Stripe
(never from the browser) and records it. Another buyer's card id answers 404.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from .errors import PaymentError
from .selectors import (
    payment_get_for_buyer,
    payments_card_enabled,
    saved_card_get_for_user,
    saved_cards_for_user,
    stripe_publishable_key,
)
from .services import (
    payment_refresh,
    saved_card_make_default,
    saved_card_record,
    saved_card_remove,
    saved_card_setup_start,
)


@login_required
@require_GET
def cards(request):
    return render(
        request,
        "payments/cards/list.html",
        {"cards": list(saved_cards_for_user(user=request.user)), "card_enabled": payments_card_enabled()},
    )


@login_required
@require_GET
def card_add(request):
    if not payments_card_enabled():
        messages.info(request, _("Cards cannot be saved on this site: pay on pickup instead."))
        return redirect("payments:cards")
    try:
        setup = saved_card_setup_start(user=request.user)
    except PaymentError as exc:
        messages.error(request, exc.message)
        return redirect("payments:cards")
    return render(
        request,
        "payments/cards/add.html",
        {
            "client_secret": setup.client_secret,
            "publishable_key": stripe_publishable_key(),
            "stripe_js_url": settings.STRIPE_JS_URL,
            "return_url": request.build_absolute_uri(reverse("payments:card-added")),
        },
    )


@login_required
@require_GET
def card_added(request):
    """Where Stripe.js sends the buyer after confirming the SetupIntent."""
    setup_intent_id = (request.GET.get("setup_intent") or "").strip()
    if not setup_intent_id.startswith("seti_"):
        messages.error(request, _("The card was not saved: add it again."))
        return redirect("payments:cards")
    try:
        card = saved_card_record(user=request.user, setup_intent_id=setup_intent_id[:255])
    except PaymentError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Card saved: %(card)s.") % {"card": card})
    return redirect("payments:cards")


@login_required
@require_POST
def card_remove(request, card_id: int):
    card = saved_card_get_for_user(user=request.user, card_id=card_id)
    try:
        saved_card_remove(card=card)
    except PaymentError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Card %(card)s removed.") % {"card": card})
    return redirect("payments:cards")


@login_required
@require_POST
def card_make_default(request, card_id: int):
    card = saved_card_make_default(card=saved_card_get_for_user(user=request.user, card_id=card_id))
    messages.success(request, _("%(card)s is now your default card for 1-Click.") % {"card": card})
    return redirect("payments:cards")


@require_GET
def payment_return(request):
    """Stripe sends the buyer here after the Payment Element (``?reference=…&next=/orders/…``): a
    signed-in buyer's payment is brought up to date from Stripe (a guest's follows the webhook),
    then the buyer goes on to ``next``."""
    target = request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    reference = (request.GET.get("reference") or "").strip()[:100]
    if reference and request.user.is_authenticated:
        payment = payment_get_for_buyer(user=request.user, reference=reference)
        try:
            payment_refresh(payment=payment)
        except PaymentError as exc:
            messages.warning(request, exc.message)
    return redirect(target)
