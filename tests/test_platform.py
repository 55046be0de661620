"""Staff changes made in admin are audited; every page shares the accessible base layout; the site
speaks English, Simplified Chinese and Spanish; app dependencies go one way."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.urls import reverse

from apps.accounts.tests.factories import StaffFactory, UserFactory, current_totp, totp_device_for
from apps.core.admin import AuditedModelAdmin
from apps.core.models import AuditLogEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_verified(client):
    staff = StaffFactory()
    device = totp_device_for(staff)
    client.force_login(staff)
    client.post(reverse("accounts:mfa-verify"), {"code": current_totp(device)})
    client.staff = staff
    return client


def test_admin_change_is_audited_with_old_and_new_values(admin_client_verified):
    target = UserFactory(first_name="Old")
    url = reverse("admin:accounts_user_change", args=[target.pk])
    page = admin_client_verified.get(url)
    form = page.context["adminform"].form
    data = {
        k: v for k, v in form.initial.items() if v is not None and k not in ("password", "groups", "user_permissions")
    }
    data.update(
        {
            "first_name": "New",
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        }
    )
    response = admin_client_verified.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = AuditLogEntry.objects.get(object_type="accounts.user", object_id=str(target.pk))
    assert entry.action == "update"
    assert entry.actor == admin_client_verified.staff
    assert entry.changes["first_name"] == {"from": "Old", "to": "New"}
    assert entry.request_id


def test_admin_delete_is_audited(admin_client_verified):
    target = UserFactory()
    url = reverse("admin:accounts_user_delete", args=[target.pk])
    admin_client_verified.post(url, {"post": "yes"})
    assert AuditLogEntry.objects.filter(action="delete", object_id=str(target.pk)).exists()


def test_audit_log_is_read_only_in_admin(admin_client_verified):
    entry = AuditLogEntry.objects.create(action="update", object_type="x", object_id="1", object_repr="x")
    assert admin_client_verified.get(reverse("admin:core_auditlogentry_changelist")).status_code == 200
    assert admin_client_verified.get(reverse("admin:core_auditlogentry_add")).status_code == 403
    response = admin_client_verified.post(reverse("admin:core_auditlogentry_delete", args=[entry.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert AuditLogEntry.objects.filter(pk=entry.pk).exists()


def test_every_project_model_admin_is_audited():
    """A new app's admin cannot silently skip the audit log."""
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_config.name.startswith("apps.") and model is not AuditLogEntry:
            assert isinstance(model_admin, AuditedModelAdmin), f"{model_admin} must inherit AuditedModelAdmin"


def test_base_layout_has_landmarks_search_account_menu_and_language_switcher(client):
    client.force_login(UserFactory(first_name="Mei", last_name="Lim"))
    body = client.get(reverse("catalog:home")).content.decode()
    for fragment in [
        '<a class="skip-link" href="#main">',
        "<header",
        '<main id="main"',
        "<footer",
        'role="search"',
        '<label for="site-search-q"',
        "Mei Lim",
        'action="/accounts/logout/"',
        'name="language"',
        "vendor/pico/pico.min.css",
        "vendor/htmx/htmx.min.js",
    ]:
        assert fragment in body, fragment
    assert "cdn" not in body.lower()


def test_every_page_sends_a_content_security_policy(client):
    response = client.get(reverse("catalog:home"))
    assert "script-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("language", "phrase"),
    [("en", "Buy from the makers and shops near you"), ("zh-hans", "向您附近"), ("es", "Compra a los artesanos")],
)
def test_home_page_in_each_language(client, language, phrase):
    client.post(reverse("set_language"), {"language": language, "next": "/"})
    body = client.get(reverse("catalog:home")).content.decode()
    assert f'<html lang="{language}">' in body
    assert phrase in body


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "We could not find that page" in response.content.decode()


def test_apps_depend_on_each_other_in_one_direction_only():
    """The import-linter layer contract in pyproject.toml (core → accounts → shops → … → api)."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports)], cwd=settings.BASE_DIR, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("language", ["es", "zh_Hans"])
def test_translation_catalogs_are_complete(language):
    """Every extracted string has a translation (run `make messages` and translate new ones)."""
    from babel.messages.pofile import read_po

    with open(Path(settings.BASE_DIR) / "locale" / language / "LC_MESSAGES" / "django.po", "rb") as handle:
        catalog = read_po(handle)
    missing = [
        message.id
        for message in catalog
        if message.id
        and (message.fuzzy or not (all(message.string) if isinstance(message.string, tuple) else message.string))
    ]
    assert missing == []
