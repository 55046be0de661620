"""Every LocalBazaar setting lives here, read from the environment with safe defaults.

``dev``, ``test`` and ``production`` only adjust what differs. With no environment at all the
site runs on SQLite with tasks executed in process, which is what ``make run`` relies on.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parents[2]

env = environ.Env()

SECRET_KEY = env("SECRET_KEY", default="insecure-dev-only-key-change-me-0123456789abcdef")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Applications -------------------------------------------------------------------------------
DJANGO_APPS = [
    "apps.accounts.admin_apps.LocalBazaarAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
]
THIRD_PARTY_APPS = [
    "django_prometheus",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_htmx",
    "csp",
    "django_filters",
    "django.contrib.postgres",
]
# Listed in dependency order (see docs in README "Architecture"): an app imports only earlier ones.
LOCAL_APPS = [
    "apps.core",
    "apps.accounts",
    "apps.shops",
    "apps.catalog",
    "apps.inventory",
    "apps.payments",
    "apps.delivery",
    "apps.loyalty",
    "apps.orders",
    "apps.messaging",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "apps.core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "apps.accounts.middleware.MfaEnforcementMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "localbazaar.urls"
WSGI_APPLICATION = "localbazaar.wsgi.application"
ASGI_APPLICATION = "localbazaar.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.site",
                "apps.orders.panels.cart_context",
                "apps.messaging.nav_seller.seller_inbox_link",
                "apps.loyalty.nav_seller.seller_boosts_link",
            ],
        },
    }
]

# --- Data stores ---------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Empty REDIS_URL means "no Redis": local-memory cache and tasks run in process (the demo).
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="lb"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth, accounts and MFA ---------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "first_name", "last_name")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "catalog:home"
ACCOUNT_LOGOUT_REDIRECT_URL = "catalog:home"

ACCOUNT_ADAPTER = "apps.accounts.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[LocalBazaar] "
ACCOUNT_PREVENT_ENUMERATION = True
# Lockout: after 5 failed logins for one account within 15 minutes (or 20 a minute from one
# address) further attempts are refused with "Too many failed login attempts", backed by the cache
# (Redis in production, so every web node shares the count).
ACCOUNT_RATE_LIMITS = {
    "login_failed": env("LOGIN_FAILED_RATE_LIMIT", default="20/m/ip,5/15m/key"),
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
}

OTP_TOTP_ISSUER = "LocalBazaar"
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
MFA_BACKUP_CODE_COUNT = 10
# Shop owners must use MFA to reach the seller portal (buyers may opt in).
MFA_REQUIRED_FOR_SHOP_OWNERS = env.bool("MFA_REQUIRED_FOR_SHOP_OWNERS", default=True)
# Back-office pages (admin, back office, the seller portal): whoever must use MFA (staff, shop owners)
# reaches them only with MFA verified in the session.
MFA_PROTECTED_PATH_PREFIXES = ["/admin/", "/backoffice/", "/sell/"]
# Pages a signed-in user whose MFA is not yet verified may still open.
MFA_EXEMPT_PATH_PREFIXES = [
    "/accounts/logout/",
    "/accounts/mfa/",
    "/healthz/",
    "/metrics",
    "/static/",
    "/i18n/",
    "/media/",
]

# --- Internationalisation ----------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("zh-hans", _("Simplified Chinese")),
    ("es", _("Spanish")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Singapore"
USE_I18N = True
USE_TZ = True
DEFAULT_CURRENCY = "SGD"

# --- Static and media ----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Email ---------------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="LocalBazaar <no-reply@localbazaar.test>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery --------------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
# With acks_late a task whose worker died goes back to the queue after this many seconds (Redis);
# it must exceed the longest retry countdown (ORDER_PIPELINE_RETRY_MAX_SECONDS), or a message
# waiting for its countdown would be delivered twice.
CELERY_VISIBILITY_TIMEOUT_SECONDS = env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT_SECONDS}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "core-worker-heartbeat": {"task": "core.worker_heartbeat", "schedule": 60.0},
    "inventory-reservations-expire": {"task": "inventory.reservations_expire", "schedule": 60.0},
    "inventory-anomaly-scan-nightly": {
        "task": "inventory.anomaly_scan_nightly",
        "schedule": crontab(hour=2, minute=30),
    },
    "orders-checkouts-expire": {"task": "orders.checkouts_expire", "schedule": 60.0},
    "core-idempotency-records-purge": {"task": "core.idempotency_records_purge", "schedule": 3600.0},
    "orders-warnings-overdue": {"task": "orders.warnings_scan_overdue", "schedule": 300.0},
    "orders-warnings-payment-failures": {"task": "orders.warnings_scan_payment_failures", "schedule": 300.0},
    "orders-warnings-delivery-late": {"task": "orders.warnings_scan_delivery_late", "schedule": 300.0},
    "delivery-slot-bookings-expire": {"task": "delivery.slot_bookings_expire", "schedule": 60.0},
    "delivery-runs-build-due": {"task": "delivery.runs_build_due", "schedule": 60.0},
    "messaging-notifications-sweep": {"task": "messaging.notifications_sweep", "schedule": 300.0},
    # Nightly, in this order: expire points (and warn of the next), then review tiers.
    "loyalty-points-expire-nightly": {"task": "loyalty.points_expire", "schedule": crontab(hour=1, minute=10)},
    "loyalty-tiers-review-nightly": {"task": "loyalty.tiers_review", "schedule": crontab(hour=1, minute=40)},
}

# --- API -----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Shop integrations send "Authorization: Api-Key <key>"; people use their signed-in session.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.shops.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # A signed-in person; views opt in to API keys with ShopPermission (or AllowAny for public reads).
    "DEFAULT_PERMISSION_CLASSES": ["apps.shops.api.permissions.IsAuthenticatedPerson"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.problems.problem_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    # Requests made with an API key are counted per key (per-plan limits come with billing).
    "DEFAULT_THROTTLE_CLASSES": ["apps.shops.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env("API_KEY_THROTTLE_RATE", default="600/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LocalBazaar API",
    "DESCRIPTION": (
        "The LocalBazaar integrator API. Every error is an RFC 9457 problem document (`application/problem+json`)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets used by several API components get one name each in the schema.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "apps.orders.states.OrderStatus.choices",
        "OrderChannelEnum": "apps.orders.models.Channel.choices",
        "OrderIntakeStatusEnum": "apps.orders.api.serializers.INTAKE_STATUS_CHOICES",
        "OrderLineStatusEnum": "apps.orders.states.LineStatus.choices",
        "OrderFulfilmentEnum": "apps.orders.models.Fulfilment.choices",
        "OrderIntakeFulfilmentEnum": "apps.orders.api.serializers.INTAKE_FULFILMENT_CHOICES",
        "OrderIntakeChannelEnum": "apps.orders.api.serializers.INTAKE_CHANNEL_CHOICES",
        "OrderFileStatusEnum": "apps.orders.api.serializers.ORDER_FILE_STATUS_CHOICES",
        "ProductStatusEnum": "apps.catalog.api.serializers.PRODUCT_STATUS_CHOICES",
        "LoyaltyEntryKindEnum": "apps.loyalty.api.serializers.ENTRY_KIND_CHOICES",
        "LoyaltyEntryBucketEnum": "apps.loyalty.api.serializers.ENTRY_BUCKET_CHOICES",
        "LoyaltyPointsStatusEnum": "apps.loyalty.api.serializers.POINTS_STATUS_CHOICES",
    },
}
PROBLEM_TYPE_BASE_URL = env("PROBLEM_TYPE_BASE_URL", default="https://localbazaar.example/problems/")

# --- Observability -------------------------------------------------------------------------------
# /metrics answers callers from these networks, or any caller with "Authorization: Bearer <token>".
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])
METRICS_BEARER_TOKEN = env("METRICS_BEARER_TOKEN", default="")
PROMETHEUS_EXPORT_MIGRATIONS = False
REQUEST_ID_HEADER = "X-Request-ID"
LOG_FORMAT = env("LOG_FORMAT", default="text")  # "json" in production
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "apps.core.logging.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "stripe": {"level": "WARNING"},  # two INFO lines per API call otherwise
    },
}

# --- Security ------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# Sessions are read from the cache (Redis in production) and written through to the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", "https://js.stripe.com"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", "https://api.stripe.com"],
        "frame-src": ["'self'", "https://js.stripe.com", "https://hooks.stripe.com"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- Product ------------------------------------------------------------------------------------
SITE_NAME = env("SITE_NAME", default="LocalBazaar")
CSRF_FAILURE_VIEW = "apps.core.views.csrf_failure"
IMAGE_UPLOAD_MAX_BYTES = env.int("IMAGE_UPLOAD_MAX_BYTES", default=5_000_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000_000
FILE_UPLOAD_MAX_MEMORY_SIZE = 5_000_000
# Dedicated tenancy: the slug of the one shop this deployment serves (empty: the shared marketplace).
LOCALBAZAAR_DEDICATED_SHOP = env("LOCALBAZAAR_DEDICATED_SHOP", default="")
# How long a checkout holds its stock before the units go back on sale (inventory.stock_reserve).
INVENTORY_RESERVATION_TTL_SECONDS = env.int("INVENTORY_RESERVATION_TTL_SECONDS", default=600)
# How long a buyer may cancel a 1-Click order from its confirmation page (refund, stock back).
ONE_CLICK_CANCEL_MINUTES = env.int("ONE_CLICK_CANCEL_MINUTES", default=30)
# The order pipeline (external orders): a step that fails for a reason other than the order itself
# is retried after BASE, 2×BASE, 4×BASE… seconds (at most MAX apart), MAX_ATTEMPTS times in all;
# then the order goes to the dead-letter queue for staff to fix and re-push.
ORDER_PIPELINE_RETRY_BASE_SECONDS = env.float("ORDER_PIPELINE_RETRY_BASE_SECONDS", default=2.0)
ORDER_PIPELINE_RETRY_MAX_SECONDS = env.float("ORDER_PIPELINE_RETRY_MAX_SECONDS", default=300.0)
ORDER_PIPELINE_MAX_ATTEMPTS = env.int("ORDER_PIPELINE_MAX_ATTEMPTS", default=10)
# Batch order files (apps.orders.order_files): a larger file, or one with more orders, is refused whole.
ORDER_FILE_MAX_BYTES = env.int("ORDER_FILE_MAX_BYTES", default=20 * 1024 * 1024)
ORDER_FILE_MAX_ORDERS = env.int("ORDER_FILE_MAX_ORDERS", default=20_000)
# How long an API Idempotency-Key is remembered (apps.core.idempotency).
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
# The site's public address, for links in emails and webhook messages sent by background jobs.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Outgoing webhooks (shops' alert URLs): a short timeout, and no private, loopback or link-local
# destinations (the cloud metadata address among them) unless this is set (tests, local tools).
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=DEBUG)
# A failing alert webhook is retried after this many seconds, doubling each time (5 retries).
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
# The home page's "New" and category shelves are the same for every visitor without a location:
# they are cached this long (seconds) per language. New products appear within this delay.
HOME_CACHE_SECONDS = env.int("HOME_CACHE_SECONDS", default=60)
# Messaging: a message still unread this long (seconds) emails the other side, once per quiet period.
MESSAGING_NOTIFY_AFTER_SECONDS = env.int("MESSAGING_NOTIFY_AFTER_SECONDS", default=900)
# Messaging: message images (JPEG, PNG, WebP) up to this size; at most COUNT messages per PERIOD from
# one sender ("20/10m"; units s, m, h, d); a message can be edited by its sender for this long.
MESSAGING_IMAGE_MAX_BYTES = env.int("MESSAGING_IMAGE_MAX_BYTES", default=5_000_000)
MESSAGING_RATE_LIMIT = env("MESSAGING_RATE_LIMIT", default="20/10m")
MESSAGING_EDIT_WINDOW_SECONDS = env.int("MESSAGING_EDIT_WINDOW_SECONDS", default=300)
# The buyer's unread count in the header is cached this long (seconds); sending and reading drop it.
MESSAGING_UNREAD_CACHE_SECONDS = env.int("MESSAGING_UNREAD_CACHE_SECONDS", default=30)

# --- Payments -------------------------------------------------------------------------------------
# Stripe keys come only from the environment. Without STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY
# card payments are off (payments_card_enabled() is False) and checkout offers pay on pickup only.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# Empty: Stripe's own API. Tests point it at a local fake Stripe (localstripe on 127.0.0.1).
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
# Stripe.js, the one script loaded from another host (allowed in the CSP above).
STRIPE_JS_URL = env("STRIPE_JS_URL", default="https://js.stripe.com/v3/")
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
# Webhook signatures older than this (seconds) are refused, against replays.
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
# The platform's commission on each order, a decimal fraction ("0.08" = 8%), kept as a string so
# it never passes through a float; payments.selectors.platform_commission_rate() reads it.
PLATFORM_COMMISSION_RATE = env("PLATFORM_COMMISSION_RATE", default="0.08")

# --- Early warnings (apps.orders.services_warnings; its docstring states each rule) ---------------
# A line charged more than this percent away from its catalog price.
ORDER_WARNING_PRICE_DEVIATION_PCT = env("ORDER_WARNING_PRICE_DEVIATION_PCT", default="20")
# A discount above this percent of the order's subtotal.
ORDER_WARNING_DISCOUNT_PCT = env("ORDER_WARNING_DISCOUNT_PCT", default="30")
# Not accepted within this fraction of the shop's dispatch time (not dispatched: the whole of it).
ORDER_WARNING_ACCEPT_HOURS_FRACTION = env("ORDER_WARNING_ACCEPT_HOURS_FRACTION", default="0.5")
# More than this share of card payments failed in the last WINDOW minutes, with at least MIN_ATTEMPTS.
ORDER_WARNING_PAYMENT_FAILURE_RATE = env("ORDER_WARNING_PAYMENT_FAILURE_RATE", default="0.2")
ORDER_WARNING_PAYMENT_WINDOW_MINUTES = env.int("ORDER_WARNING_PAYMENT_WINDOW_MINUTES", default=15)
ORDER_WARNING_PAYMENT_MIN_ATTEMPTS = env.int("ORDER_WARNING_PAYMENT_MIN_ATTEMPTS", default=10)
# New overdue warnings per rule and scan (the rest come on the next scan, 5 minutes later).
ORDER_WARNING_SCAN_BATCH = env.int("ORDER_WARNING_SCAN_BATCH", default=500)
# Who is emailed about warnings (empty: every active staff user with an email address), and an
# optional URL that receives each warning as JSON (public addresses only, like shops' webhooks).
ORDER_WARNING_EMAILS = env.list("ORDER_WARNING_EMAILS", default=[])
ORDER_WARNING_WEBHOOK_URL = env("ORDER_WARNING_WEBHOOK_URL", default="")

# --- Tax documents --------------------------------------------------------------------------------
# Sales tax (GST, SST, IVA, VAT…) per shop country (``Shop.country``), as decimal fractions kept as
# strings (never floats). Catalog prices include tax: invoices show net = gross / (1 + rate).
# A country missing here has no tax on its invoices (rate 0).
ORDER_TAX_RATES = {
    "SG": "0.09",
    "MY": "0.08",
    "MX": "0.16",
    "CO": "0.19",
    "CL": "0.19",
    "PE": "0.18",
    "AR": "0.21",
    "BR": "0.0",
    "JP": "0.10",
    "TW": "0.05",
    "HK": "0.0",
}
# What the tax is called on a country's invoices (anything else: "Tax").
ORDER_TAX_LABELS = {
    "SG": "GST",
    "MY": "SST",
    "MX": "IVA",
    "CO": "IVA",
    "CL": "IVA",
    "PE": "IGV",
    "AR": "IVA",
    "BR": "ICMS",
    "JP": "JCT",
    "TW": "VAT",
    "HK": "Tax",
}

# --- loyalty -----------------------------------------------------------------------------------
# What one point is worth per currency: about one US cent, always a whole multiple of the
# currency's minor unit (a test checks), so points are exact money. See apps/loyalty/units.py.
LOYALTY_POINT_VALUE = {
    "USD": "0.01", "EUR": "0.01", "SGD": "0.01", "HKD": "0.08", "MYR": "0.05", "IDR": "150",
    "THB": "0.35", "PHP": "0.55", "VND": "250", "TWD": "0.30", "CNY": "0.07", "JPY": "1", "KRW": "14",
    "MXN": "0.20", "BRL": "0.05", "ARS": "10", "CLP": "10", "COP": "40", "PEN": "0.04",
}  # fmt: skip
# Points a buyer's first order earns on top of its rebate (once per buyer).
LOYALTY_FIRST_PURCHASE_BONUS = env.int("LOYALTY_FIRST_PURCHASE_BONUS", default=500)
# Points expire this many days after they became available, oldest first; buyers are warned
# LOYALTY_EXPIRY_NOTICE_DAYS before.
LOYALTY_POINTS_LIFETIME_DAYS = env.int("LOYALTY_POINTS_LIFETIME_DAYS", default=365)
LOYALTY_EXPIRY_NOTICE_DAYS = env.int("LOYALTY_EXPIRY_NOTICE_DAYS", default=30)
# Tiers count the money spent over this many days (rolling).
LOYALTY_TIER_WINDOW_DAYS = env.int("LOYALTY_TIER_WINDOW_DAYS", default=365)
