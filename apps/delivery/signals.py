"""What the delivery app tells the orders app (above it). Sent from inside the service's transaction:
receivers only write to the database or queue work with ``enqueue_on_commit``.

- ``delivery_run_started(run=, references=[order numbers])``: the courier left with these orders.
- ``delivery_stop_done(run=, stop=, reference=, delivered=bool, reason=)``: one order was delivered,
  or the delivery failed (``reason`` says why).
- ``slot_booking_released(booking=, reference=, reason=)``: an order's place in a slot was given back.
"""

from django.dispatch import Signal

delivery_run_started = Signal()
delivery_stop_done = Signal()
slot_booking_released = Signal()
