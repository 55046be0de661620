"""Catalog tasks: thin doors that load by id, call one service and own retries."""

from celery import shared_task


@shared_task(name="catalog.product_image_thumbnail", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def product_image_thumbnail(image_id: int) -> str:
    from .images import product_image_thumbnail_build

    return product_image_thumbnail_build(image_id=image_id)


@shared_task(name="catalog.import_job_run", acks_late=True)
def import_job_run(job_id: int) -> dict:
    from .imports import import_job_process

    return import_job_process(job_id=job_id)
