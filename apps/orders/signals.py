"""What the orders app tells the apps above it (messaging, recommendations, api) and its own
receivers about orders.

- ``order_status_changed(order=, event=, from_status=, to_status=, actor=)``: sent by
  ``order_transition`` for every status change, from inside its transaction (like the payments
  signals): receivers only write to the database or queue work with ``enqueue_on_commit``.
- ``order_placed(order=, event=)``: an order was made (any channel), with its first status.
- ``order_refunded(order=, amount=, reference=, reason=)``: money was given back on an order (a
  ``Money``; ``reference`` is the ``OrderRefund`` reference, unique per refund).
"""

from django.dispatch import Signal

order_status_changed = Signal()
order_placed = Signal()
order_refunded = Signal()
