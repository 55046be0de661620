"""Request rate limits for shop integrations, counted per API key.

One rate for every key for now (``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api_key"]``).
The product asks for per-key limits by billing plan: when billing lands, this class reads the
key's shop plan in ``get_rate`` instead of the single setting.
"""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from apps.shops.models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Limits requests made with an API key, keyed on the key's id; other requests pass untouched."""

    scope = "api_key"

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
