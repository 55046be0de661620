"""Catalog tasks: thin doors that load by id, call one service and own retries."""

from celery import shared_task

from .images import product_image_thumbnail_build, product_image_thumbnail_fail
from .imports import import_job_fail, import_job_process

THUMBNAIL_MAX_RETRIES = 5


@shared_task(bind=True, name="catalog.product_image_thumbnail", max_retries=THUMBNAIL_MAX_RETRIES)
def product_image_thumbnail(self, image_id: int) -> str:
    """Build one image's thumbnail. Storage errors are retried with backoff; after the last attempt
    the image is marked failed, so the seller sees that rather than a thumbnail pending forever."""
    try:
        return product_image_thumbnail_build(image_id=image_id)
    except OSError as exc:
        if self.request.retries >= self.max_retries:
            product_image_thumbnail_fail(image_id=image_id, reason=f"storage kept failing: {exc}")
            raise
        raise self.retry(exc=exc, countdown=min(600, 10 * 2**self.request.retries)) from exc


# The largest allowed file (10,000 rows) may need longer than the default task time limit.
IMPORT_SOFT_TIME_LIMIT = 25 * 60


@shared_task(
    name="catalog.import_job_run",
    acks_late=True,
    soft_time_limit=IMPORT_SOFT_TIME_LIMIT,
    time_limit=IMPORT_SOFT_TIME_LIMIT + 60,
)
def import_job_run(job_id: int) -> dict:
    """Import one uploaded CSV. A finished job is not re-run when its message is delivered again;
    a run that breaks off marks the job failed, so the seller is not left watching a stuck bar."""
    try:
        return import_job_process(job_id=job_id)
    except Exception:
        import_job_fail(job_id=job_id)
        raise
