"""Bare Django for the ``web`` benchmark's baseline: settings, URLconf and WSGI app in one module.

No installed apps, no middleware, no database: one view answering "hello". Served by gunicorn as
``_hello_app:application`` with ``DJANGO_SETTINGS_MODULE=_hello_app`` and ``bench/`` on the path.
"""

from django.http import HttpResponse
from django.urls import path

# --- Settings ------------------------------------------------------------------------------------
SECRET_KEY = "bench-hello-only-not-a-secret"  # noqa: S105 - serves "hello" on 127.0.0.1 only
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict[str, dict] = {}
ROOT_URLCONF = __name__
USE_TZ = True


# --- URLconf -------------------------------------------------------------------------------------
def hello(request):
    return HttpResponse("hello")


urlpatterns = [path("", hello)]

# --- WSGI ----------------------------------------------------------------------------------------
# Last, so that django.setup() finds the settings above when it imports this very module.
from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
