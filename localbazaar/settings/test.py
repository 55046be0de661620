"""Test settings: the database and Redis come from the environment that ``make test`` prepares.

With ``DATABASE_URL``/``REDIS_URL`` unset the suite falls back to SQLite and local memory; the
Makefile says which one it used and, under ``CI=true``, refuses to fall back.
"""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests decide per test whether tasks run eagerly (the default) or through a real worker.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING["root"]["level"] = "WARNING"  # noqa: F405

# Rate-limit counters and other cache entries stay per test process (locmem) unless a test runs a
# real worker process that must share the cache with the test (TEST_SHARED_CACHE=1).
if env.bool("TEST_SHARED_CACHE", default=False) and REDIS_URL:  # noqa: F405
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,  # noqa: F405
            "KEY_PREFIX": "lbtest",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True  # webhook tests post to a server on 127.0.0.1
HOME_CACHE_SECONDS = 0  # tests see every change at once; test_home_shelves_are_cached turns it on

# --- Payments: no test reaches Stripe. Card payments are off unless a test turns them on, pointing
# STRIPE_API_BASE at the localstripe server the payments tests start on 127.0.0.1.
STRIPE_SECRET_KEY = ""
STRIPE_PUBLISHABLE_KEY = ""
STRIPE_WEBHOOK_SECRET = ""
STRIPE_API_BASE = "http://127.0.0.1:9"  # the discard port: a forgotten override fails fast, offline
STRIPE_MAX_NETWORK_RETRIES = 0
