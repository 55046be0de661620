"""Local development and the demo (``make run``): SQLite, console email, tasks in process."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
WHITENOISE_AUTOREFRESH = True
# Local tools (a webhook catcher on localhost) may receive alert webhooks in development.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=True)
