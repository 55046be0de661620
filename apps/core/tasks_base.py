"""The base class of every Celery task.

When a task is enqueued, the current request id travels in the message headers; when the worker
runs it, that id becomes the current one, so the task's log lines carry the id of the web request
that caused them. Tasks without one get a fresh id.
"""

from __future__ import annotations

import logging

from celery import Task

from .request_context import get_request_id, new_request_id, reset_request_id, set_request_id

logger = logging.getLogger("apps.tasks")

REQUEST_ID_HEADER = "request_id"


class LoggedTask(Task):
    def apply_async(
        self, args=None, kwargs=None, task_id=None, producer=None, link=None, link_error=None, shadow=None, **options
    ):
        headers = dict(options.pop("headers", None) or {})
        headers.setdefault(REQUEST_ID_HEADER, get_request_id() or new_request_id())
        return super().apply_async(
            args, kwargs, task_id, producer, link, link_error, shadow, headers=headers, **options
        )

    def __call__(self, *args, **kwargs):
        request_id = self.current_request_id()
        token = set_request_id(request_id)
        try:
            logger.info("task %s started (request %s)", self.name, request_id)
            return super().__call__(*args, **kwargs)
        finally:
            reset_request_id(token)

    def current_request_id(self) -> str:
        request = self.request
        value = getattr(request, REQUEST_ID_HEADER, None)
        if not value:
            value = (getattr(request, "headers", None) or {}).get(REQUEST_ID_HEADER)
        return value or get_request_id() or new_request_id()


def enqueue_on_commit(task: Task, /, **kwargs) -> None:
    """Send ``task`` with ``kwargs`` once the current transaction commits (never on rollback).

    The request id is captured now, while the request that caused the task is being handled, so the
    worker logs under it even though the message leaves later.
    """
    from django.db import transaction

    request_id = get_request_id() or new_request_id()
    transaction.on_commit(lambda: task.apply_async(kwargs=kwargs, headers={REQUEST_ID_HEADER: request_id}))
