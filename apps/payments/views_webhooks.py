"""Stripe's webhook: ``POST /payments/stripe/webhook/``.

No session, no CSRF token: the request is authenticated by its ``Stripe-Signature`` header, an
HMAC of the raw body with ``STRIPE_WEBHOOK_SECRET`` (``stripe.Webhook.construct_event``). A bad
signature or body gets 400 and changes nothing. Processing is a few database writes
(``stripe_event_process``), so the answer is quick; an event seen before answers 200 at once.
"""

from __future__ import annotations

import json
import logging

import stripe
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .errors import PaymentError
from .services import stripe_event_process

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def stripe_webhook(request):
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        logger.error("Stripe webhook received but STRIPE_WEBHOOK_SECRET is not set")
        return HttpResponse("Webhooks are not configured.", status=400, content_type="text/plain")
    body = request.body
    try:
        stripe.Webhook.construct_event(
            body,
            request.headers.get("Stripe-Signature"),
            secret,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
        )
        event = json.loads(body)
    except stripe.SignatureVerificationError:
        logger.warning("Stripe webhook with a bad signature refused")
        return HttpResponse("Bad signature.", status=400, content_type="text/plain")
    except (ValueError, TypeError, AttributeError):  # not JSON, or JSON that is not an event
        return HttpResponse("Bad payload.", status=400, content_type="text/plain")
    if not isinstance(event, dict):
        return HttpResponse("Bad payload.", status=400, content_type="text/plain")
    try:
        record = stripe_event_process(event=event)
    except PaymentError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain")
    return JsonResponse({"received": True, "outcome": record.outcome})
