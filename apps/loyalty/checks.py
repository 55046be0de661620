"""Django system checks of the loyalty settings (``manage.py check``, and every start)."""

from __future__ import annotations

from django.core.checks import Error


def point_values(app_configs=None, **kwargs) -> list[Error]:
    """Every supported currency needs a point value that is a positive whole multiple of its minor
    unit (``LOYALTY_POINT_VALUE``), or points would not be exact money."""
    from .units import point_values_check

    return [
        Error(
            f"LOYALTY_POINT_VALUE: {problem}.",
            hint="Give each supported currency a positive value in whole minor units (e.g. '0.01' for SGD).",
            id="loyalty.E001",
        )
        for problem in point_values_check()
    ]
