"""The messaging app's business-rule errors; every message says what the sender can do.

Views show ``exc.message`` as a form error; the API turns them into problem+json with ``code``.
"""

from apps.core.errors import ApplicationError


class MessagingError(ApplicationError):
    """A message, conversation, report or block cannot be made as asked."""

    code = "messaging-error"
    title = "The message could not be sent"


class SenderBlocked(MessagingError):
    """The shop no longer takes messages from this buyer."""

    status_code = 403
    code = "buyer-blocked"


class RateLimited(MessagingError):
    """The sender sent too many messages in the rate-limit window; ``extra["retry_after"]`` in seconds."""

    status_code = 429
    code = "rate-limited"
    title = "Too many messages"
