"""The Celery application. Workers: ``celery -A localbazaar worker``; beat: ``celery -A localbazaar beat``.

Configuration comes from Django settings prefixed ``CELERY_``. Every task uses
``apps.core.tasks_base.LoggedTask``, which carries the request id of the web request that enqueued
it into the worker's logs.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "localbazaar.settings.dev")

app = Celery("localbazaar", task_cls="apps.core.tasks_base:LoggedTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
