"""Local development and the demo (``make run``): SQLite, console email, tasks in process."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
WHITENOISE_AUTOREFRESH = True
