"""Loyalty tasks: the nightly jobs, thin doors that call one service and log what it did.

Both are safe to run twice (a lost night run by hand, or two beats): each account is re-read under
its row lock, so points already expired are not expired again, a lot already warned of is not
warned of again, and an account already in its tier is not written."""

import logging

from celery import shared_task
from django.db import OperationalError

from .services import points_expire, tiers_review

logger = logging.getLogger(__name__)


@shared_task(
    name="loyalty.points_expire",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
)
def points_expire_nightly() -> dict[str, int]:
    """Expire the points past their lifetime (oldest first) and warn buyers of the points that
    expire within ``LOYALTY_EXPIRY_NOTICE_DAYS`` (beat, nightly)."""
    counts = points_expire()
    logger.info("loyalty expiry: %(points)d points expired on %(accounts)d accounts, %(warned)d buyers warned", counts)
    return counts


@shared_task(
    name="loyalty.tiers_review",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
)
def tiers_review_nightly() -> dict[str, int]:
    """Put every buyer in the tier their rolling 12-month spend reaches; promoted buyers are
    emailed (beat, nightly, after the expiry)."""
    counts = tiers_review()
    logger.info(
        "loyalty tier review: %(reviewed)d accounts written, %(promoted)d promoted, %(demoted)d demoted", counts
    )
    return counts
