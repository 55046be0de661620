"""What the payments app tells the apps above it (orders) about payments.

Every signal is sent with ``sender=Payment`` from inside the service's transaction, *before* it
commits: a receiver that updates an order runs in the same transaction as the payment change, so
the two commit or roll back together (a payment is never paid while its order stays unpaid). A
receiver must therefore only write to the database, or queue work with
``apps.core.tasks_base.enqueue_on_commit``; it must not send emails or call other services over the
network directly. An exception in a receiver rolls the payment change back too (for a webhook,
Stripe then delivers the event again later).

- ``payment_succeeded(payment=)``: the payment is paid, by card (``status`` succeeded) or at the
  counter (``collected``). Sent once per payment.
- ``payment_failed(payment=)``: an attempt failed (``status`` failed, ``last_error`` says why in words
  for the buyer), or an off-session (1-Click) charge needs the buyer to confirm on the page
  (``status`` requires_action). The buyer can finish through ``payment_resume``. Sent once per
  change into one of these states.
- ``payment_refunded(payment=, refund=)``: a refund was recorded (from our service, the admin, or
  Stripe's dashboard via webhook). ``payment.amount_refunded`` already includes it.
"""

from django.dispatch import Signal

payment_succeeded = Signal()
payment_failed = Signal()
payment_refunded = Signal()
