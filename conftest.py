"""Project-wide pytest fixtures."""

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters and other cached state never leak from one test to the next."""
    cache.clear()
    yield
    cache.clear()
