"""The account journey in a real browser: sign up, verify the email, sign in, turn on MFA, sign in with a code.

Mail leaves through ``apps.core.services.email_send`` → Celery (eager in tests, after commit) →
Django's locmem backend; the live server runs in this process, so ``django.core.mail.outbox`` holds it.
"""

from __future__ import annotations

import base64
import re
import time

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django_otp.oath import TOTP
from playwright.sync_api import Page, expect

from apps.accounts.models import User

EMAIL = "e2e.buyer@example.com"
PASSWORD = "Lantern-orchard-57-river"
TOTP_STEP = 30  # the defaults of django-otp's TOTPDevice: 30-second steps, 6 digits
TOTP_DIGITS = 6
# OTP_TOTP_THROTTLE_FACTOR/OTP_STATIC_THROTTLE_FACTOR is 1: one wrong code locks every device for 1 s.
THROTTLE_AFTER_ONE_FAILURE = 1.0

CONFIRM_LINK = re.compile(r"https?://[^/\s]+(/accounts/confirm-email/[^/\s]+/)")


# --- Helpers -------------------------------------------------------------------------------------


def _totp(secret: str) -> TOTP:
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    return TOTP(key, step=TOTP_STEP, digits=TOTP_DIGITS)


def totp_now(secret: str, *, after_step: int | None = None) -> tuple[str, int]:
    """The code an authenticator app shows now, and its time step.

    django-otp refuses a code from a time step at or before the last one accepted, so with
    ``after_step`` this waits (at most one step) for a step the server has not seen yet.
    """
    totp = _totp(secret)
    if after_step is not None:
        while int(time.time()) // TOTP_STEP <= after_step:
            time.sleep(0.25)
    totp.time = time.time()
    return f"{totp.token():0{TOTP_DIGITS}d}", totp.t()


def totp_wrong(secret: str) -> str:
    """A well-formed code that is not valid for any step the server tolerates (now ±1)."""
    totp = _totp(secret)
    now = time.time()
    valid = set()
    for delta in (-2, -1, 0, 1, 2):
        totp.time = now + delta * TOTP_STEP
        valid.add(f"{totp.token():0{TOTP_DIGITS}d}")
    candidate = 123456
    while f"{candidate:0{TOTP_DIGITS}d}" in valid:
        candidate += 1
    return f"{candidate:0{TOTP_DIGITS}d}"


def wait_for_mail(to: str, *, timeout: float = 10.0) -> mail.EmailMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in getattr(mail, "outbox", []):
            if to in message.to:
                return message
        time.sleep(0.1)
    subjects = [(m.to, m.subject) for m in getattr(mail, "outbox", [])]
    raise AssertionError(f"no email to {to} within {timeout}s; outbox: {subjects}")


def account_menu(page: Page):
    return page.locator("details.account-menu")


def expect_signed_in(page: Page) -> None:
    expect(account_menu(page)).to_be_visible()
    expect(account_menu(page).locator("summary")).to_contain_text("Account")


def expect_signed_out(page: Page) -> None:
    expect(account_menu(page)).to_have_count(0)
    expect(page.locator("header").get_by_role("link", name="Sign in", exact=True)).to_be_visible()


def sign_out(page: Page) -> None:
    """Open the account dropdown and press its Sign out button (a POST form)."""
    menu = account_menu(page)
    menu.locator("summary").click()
    sign_out_button = menu.get_by_role("button", name="Sign out")
    expect(sign_out_button).to_be_visible()
    sign_out_button.click()
    expect_signed_out(page)


def submit_password(page: Page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    form = page.locator("main form")
    form.locator("input[name=login]").fill(email)
    form.locator("input[name=password]").fill(password)
    form.locator("button[type=submit]").click()


def submit_code(page: Page, code: str) -> None:
    form = page.locator("main form")
    form.locator("input[name=code]").fill(code)
    form.get_by_role("button", name="Verify").click()


# --- The journey ---------------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_signup_verify_email_mfa_setup_and_mfa_login(page: Page, live_server):
    # 1. Sign up with a new email and a 12+ character password.
    page.goto("/accounts/signup/")
    signup = page.locator("main form")
    signup.locator("input[name=email]").fill(EMAIL)
    signup.locator("input[name=password1]").fill(PASSWORD)
    signup.locator("input[name=password2]").fill(PASSWORD)
    signup.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    assert User.objects.filter(email=EMAIL).exists()
    assert not EmailAddress.objects.get(email=EMAIL).verified

    # 2. Verify the email with the link from the confirmation mail (confirming takes a POST).
    message = wait_for_mail(EMAIL)
    match = CONFIRM_LINK.search(message.body)
    assert match, f"no confirmation link in the email body:\n{message.body}"
    page.goto(match.group(1))
    page.locator("main form").get_by_role("button", name="Confirm").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/confirm-email/"))
    assert EmailAddress.objects.get(email=EMAIL).verified

    # 3. Sign in with email and password (confirming may already have signed us in: start clean).
    page.goto("/")
    if account_menu(page).count():
        sign_out(page)
    submit_password(page, EMAIL, PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/")
    expect_signed_in(page)

    # 4. Turn on MFA: scan (here: read) the key, enter the current code, get backup codes.
    page.goto("/accounts/mfa/setup/")
    expect(page.locator("figure.qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").get_attribute("data-secret")
    assert secret and re.fullmatch(r"[A-Z2-7]+", secret), f"unexpected key {secret!r}"
    setup_code, setup_step = totp_now(secret)
    setup = page.locator("main form")
    setup.locator("input[name=code]").fill(setup_code)
    setup.get_by_role("button", name="Turn on").click()
    expect(page).to_have_url(re.compile(r"/accounts/mfa/$"))
    expect(page.locator(".status-on")).to_have_text("Two-factor authentication is on.")
    codes = page.locator(".backup-codes ul.codes code")
    expect(codes).to_have_count(10)
    backup_codes = [c.strip() for c in codes.all_inner_texts()]
    assert all(re.fullmatch(r"[a-z2-7]{8}", c) for c in backup_codes), backup_codes

    # 5. Sign out from the account menu.
    sign_out(page)

    # 6. Sign in again: the password alone is not enough, the site asks for a code.
    submit_password(page, EMAIL, PASSWORD)
    expect(page).to_have_url(re.compile(r"/accounts/mfa/authenticate/$"))
    expect(account_menu(page)).to_have_count(0)

    # A wrong code is refused with a clear error, and the user stays signed out.
    submit_code(page, totp_wrong(secret))
    error = page.locator("main .form-error[role=alert]")
    expect(error).to_contain_text("That code is not right")
    expect(page).to_have_url(re.compile(r"/accounts/mfa/authenticate/$"))
    expect(account_menu(page)).to_have_count(0)
    refused_at = time.monotonic()

    # The right code from the app signs the user in. It must come from a later time step than the
    # setup code (django-otp refuses reuse), and after the 1-s lock that the wrong code triggered.
    time.sleep(max(0.0, THROTTLE_AFTER_ONE_FAILURE + 0.5 - (time.monotonic() - refused_at)))
    code, _ = totp_now(secret, after_step=setup_step)
    submit_code(page, code)
    expect(page).to_have_url(f"{live_server.url}/")
    expect_signed_in(page)
    page.goto("/accounts/mfa/")
    expect(page.locator(".status-on")).to_have_text("Two-factor authentication is on.")
    expect(page.locator("main")).to_contain_text("10 backup codes left.")

    # A backup code works too (once): sign out, sign in with password and a backup code.
    sign_out(page)
    submit_password(page, EMAIL, PASSWORD)
    expect(page).to_have_url(re.compile(r"/accounts/mfa/authenticate/$"))
    submit_code(page, backup_codes[0])
    expect(page).to_have_url(f"{live_server.url}/")
    expect_signed_in(page)
    page.goto("/accounts/mfa/")
    expect(page.locator("main")).to_contain_text("9 backup codes left.")
