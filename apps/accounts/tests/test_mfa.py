"""Two-factor authentication: setup with QR and backup codes, the code step at sign-in, and the
back office closed to staff until MFA is set up and verified in the session."""

import pytest
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.errors import MfaError
from apps.accounts.selectors import (
    mfa_requirement_rule_register,
    mfa_requirement_rule_unregister,
    user_has_mfa,
    user_requires_mfa,
)
from apps.accounts.services import (
    mfa_backup_codes_regenerate,
    mfa_code_check,
    mfa_disable,
    mfa_totp_setup_begin,
    mfa_totp_setup_confirm,
)

from .factories import DEFAULT_PASSWORD, StaffFactory, UserFactory, current_totp, totp_device_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_throttle(settings):
    """Wrong codes slow the next try down by seconds; tests about other things skip the wait."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def _login_password(client, user):
    return client.post(reverse("account_login"), {"login": user.email, "password": DEFAULT_PASSWORD})


def _enable_mfa(user):
    device = mfa_totp_setup_begin(user=user)
    device, codes = mfa_totp_setup_confirm(user=user, device_id=device.pk, code=current_totp(device))
    return device, codes


# --- services --------------------------------------------------------------------------------


def test_setup_confirms_with_a_current_code_and_issues_ten_backup_codes():
    user = UserFactory()
    device, codes = _enable_mfa(user)
    assert device.confirmed
    assert len(codes) == 10 and len(set(codes)) == 10
    assert user_has_mfa(user=user)


def test_setup_refuses_a_wrong_code_and_stays_off():
    user = UserFactory()
    device = mfa_totp_setup_begin(user=user)
    wrong = f"{(int(current_totp(device)) + 1) % 1_000_000:06d}"
    with pytest.raises(MfaError, match="not right"):
        mfa_totp_setup_confirm(user=user, device_id=device.pk, code=wrong)
    with pytest.raises(MfaError, match="6-digit"):
        mfa_totp_setup_confirm(user=user, device_id=device.pk, code="abc")
    assert not user_has_mfa(user=user)


def test_setup_begin_reuses_the_pending_device_and_refuses_when_already_on():
    user = UserFactory()
    first = mfa_totp_setup_begin(user=user)
    assert mfa_totp_setup_begin(user=user).pk == first.pk
    mfa_totp_setup_confirm(user=user, device_id=first.pk, code=current_totp(first))
    with pytest.raises(MfaError, match="already on"):
        mfa_totp_setup_begin(user=user)


def test_backup_code_works_once():
    user = UserFactory()
    _device, codes = _enable_mfa(user)
    assert mfa_code_check(user=user, code=codes[0]).device is not None
    result = mfa_code_check(user=user, code=codes[0])
    assert result.device is None and "not right" in result.error


def test_regenerating_backup_codes_invalidates_the_old_ones():
    user = UserFactory()
    _device, old = _enable_mfa(user)
    new = mfa_backup_codes_regenerate(user=user)
    assert set(new).isdisjoint(old)
    assert StaticToken.objects.filter(device__user=user).count() == 10
    assert mfa_code_check(user=user, code=old[1]).device is None


def test_repeated_wrong_codes_are_throttled_with_a_message():
    user = UserFactory()
    _enable_mfa(user)
    for _ in range(3):
        mfa_code_check(user=user, code="000000")
    result = mfa_code_check(user=user, code="000000")
    assert result.device is None
    assert "Too many wrong codes" in result.error


def test_staff_cannot_turn_mfa_off_but_buyers_can():
    staff, buyer = StaffFactory(), UserFactory()
    _enable_mfa(staff)
    _enable_mfa(buyer)
    with pytest.raises(MfaError, match="requires"):
        mfa_disable(user=staff)
    mfa_disable(user=buyer)
    assert not user_has_mfa(user=buyer)
    assert user_has_mfa(user=staff)


def test_requirement_rules_from_other_apps_apply():
    """Shops register "owners need MFA"; any registered rule makes MFA required."""
    user = UserFactory()
    assert not user_requires_mfa(user=user)
    mfa_requirement_rule_register("test-owners", lambda u: u.pk == user.pk)
    try:
        assert user_requires_mfa(user=user)
    finally:
        mfa_requirement_rule_unregister("test-owners")


# --- pages -----------------------------------------------------------------------------------


def test_setup_page_shows_qr_code_and_key_then_backup_codes(client):
    user = UserFactory()
    client.force_login(user)
    page = client.get(reverse("accounts:mfa-setup")).content.decode()
    assert "<svg" in page and 'id="totp-secret"' in page
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(reverse("accounts:mfa-setup"), {"code": current_totp(device)}, follow=True)
    body = response.content.decode()
    assert "Your backup codes" in body
    assert body.count("<li><code>") == 10
    # Shown once only.
    assert "Your backup codes" not in client.get(reverse("accounts:mfa")).content.decode()


def test_setup_page_wrong_code_gives_a_form_error(client):
    user = UserFactory()
    client.force_login(user)
    client.get(reverse("accounts:mfa-setup"))
    response = client.post(reverse("accounts:mfa-setup"), {"code": "12"})
    assert response.status_code == 200
    assert "6-digit code" in response.content.decode()
    assert not user_has_mfa(user=user)


def test_sign_in_with_mfa_asks_for_a_code_before_logging_in(client, no_throttle):
    """Password alone does not log in a user with MFA; the right code does."""
    user = UserFactory()
    device, _codes = _enable_mfa(user)
    response = _login_password(client, user)
    assert response["Location"] == reverse("accounts:mfa-authenticate")
    assert "_auth_user_id" not in client.session

    response = client.post(reverse("accounts:mfa-authenticate"), {"code": "000000"})
    assert "not right" in response.content.decode()
    assert "_auth_user_id" not in client.session

    device.refresh_from_db()
    client.post(reverse("accounts:mfa-authenticate"), {"code": current_totp(device, drift=1)})
    assert client.session["_auth_user_id"] == str(user.pk)
    # The session is OTP-verified: the back office of a staff user would open.
    assert client.session.get("otp_device_id")


def test_sign_in_with_a_backup_code(client):
    user = UserFactory()
    _device, codes = _enable_mfa(user)
    _login_password(client, user)
    client.post(reverse("accounts:mfa-authenticate"), {"code": codes[3]})
    assert client.session["_auth_user_id"] == str(user.pk)


def test_code_page_without_a_pending_sign_in_goes_back_to_login(client):
    response = client.get(reverse("accounts:mfa-authenticate"))
    assert response["Location"] == reverse("account_login")


def test_admin_refused_to_staff_without_mfa(client):
    """A superuser with only a password is sent to set up MFA, never into admin."""
    staff = StaffFactory()
    _login_password(client, staff)
    assert client.session["_auth_user_id"] == str(staff.pk)
    for url in ["/admin/", "/admin/accounts/user/", "/backoffice/anything"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:mfa-setup"))


def test_admin_refused_until_mfa_verified_in_this_session(client):
    """Staff with MFA set up, but a session that is not verified (e.g. forced), must verify."""
    staff = StaffFactory()
    device = totp_device_for(staff)
    client.force_login(staff)
    response = client.get("/admin/")
    assert response["Location"].startswith(reverse("accounts:mfa-verify"))
    response = client.post(reverse("accounts:mfa-verify"), {"code": current_totp(device), "next": "/admin/"})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_admin_opens_after_sign_in_with_code(client):
    staff = StaffFactory()
    device = totp_device_for(staff)
    _login_password(client, staff)
    client.post(reverse("accounts:mfa-authenticate"), {"code": current_totp(device)})
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "LocalBazaar administration" in response.content.decode()


def test_admin_login_page_sends_anonymous_users_to_the_site_login(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_admin_refuses_non_staff_with_403_not_a_loop(client):
    user = UserFactory()
    client.force_login(user)
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403


def test_non_staff_pages_stay_open_to_staff_without_mfa(client):
    """Only back-office pages need MFA; a staff member can still shop."""
    client.force_login(StaffFactory())
    assert client.get(reverse("catalog:home")).status_code == 200


def test_turning_off_needs_a_current_code(client, no_throttle):
    user = UserFactory()
    device, _codes = _enable_mfa(user)
    client.force_login(user)
    client.post(reverse("accounts:mfa-turn-off"), {"code": "000000"})
    assert user_has_mfa(user=user)
    client.post(reverse("accounts:mfa-turn-off"), {"code": current_totp(device, drift=1)})
    assert not user_has_mfa(user=user)


def test_api_call_to_protected_prefix_without_mfa_gets_problem_json(client, settings):
    settings.MFA_PROTECTED_PATH_PREFIXES = ["/admin/", "/api/v1/accounts/"]
    client.force_login(StaffFactory())
    response = client.get("/api/v1/accounts/me")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "mfa-required"


def test_setup_from_the_back_office_shows_codes_then_continues_there(client):
    """Staff sent to set up MFA from /admin/ see their backup codes, then a Continue to /admin/."""
    staff = StaffFactory()
    client.force_login(staff)
    setup_url = client.get("/admin/")["Location"]
    client.get(setup_url)
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    response = client.post(setup_url, {"code": current_totp(device), "next": "/admin/"}, follow=True)
    body = response.content.decode()
    assert "Your backup codes" in body
    assert 'href="/admin/"' in body
    assert client.get("/admin/").status_code == 200


def test_continue_link_never_points_off_site(client):
    client.force_login(UserFactory())
    body = client.get(reverse("accounts:mfa") + "?next=https://evil.example/").content.decode()
    assert 'href="https://evil.example' not in body
