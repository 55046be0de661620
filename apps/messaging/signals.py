"""Sent from inside the service's transaction; receivers only write or queue with enqueue_on_commit.

- ``message_sent(message=, conversation=)``: a new message (not an edit).
"""

from django.dispatch import Signal

message_sent = Signal()
