"""Production settings: `check --deploy` is clean, logs are JSON lines with the request id, and
nothing runs without its secrets."""

import json
import os
import subprocess
import sys

from django.conf import settings

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "localbazaar.settings.production",
    "SECRET_KEY": "x" * 20 + "-production-secret-key-with-enough-entropy-0123456789",
    "ALLOWED_HOSTS": "shop.example.com",
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/localbazaar",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "AWS_STORAGE_BUCKET_NAME": "localbazaar-media",
}


def _clean_environ():
    """The parent's environment minus what a production server would not have (the browser
    tests' DJANGO_ALLOW_ASYNC_UNSAFE, the test database...)."""
    dropped = set(PRODUCTION_ENV) | {"DJANGO_ALLOW_ASYNC_UNSAFE"}
    return {k: v for k, v in os.environ.items() if k not in dropped}


def _manage(*args, env_extra=None):
    env = _clean_environ()
    env.update(env_extra if env_extra is not None else PRODUCTION_ENV)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )


def test_production_settings_pass_check_deploy_with_no_warnings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = _manage("check", env_extra=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_logs_are_json_lines_with_the_request_id():
    code = (
        "import django, logging; django.setup();"
        "from apps.core.request_context import set_request_id; set_request_id('req-json-1');"
        "logging.getLogger('apps.orders').warning('order %s stuck', 'LB-1')"
    )
    env = _clean_environ() | PRODUCTION_ENV
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )
    line = result.stderr.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["message"] == "order LB-1 stuck"
    assert record["request_id"] == "req-json-1"
    assert record["level"] == "WARNING"
    assert record["logger"] == "apps.orders"
