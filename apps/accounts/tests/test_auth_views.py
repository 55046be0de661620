"""Signing up, verifying the email, signing in and out, passwords and lockout (django-allauth)."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from apps.accounts.models import User

from .factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "mangosteen-river-lantern-7"


def _signup(client, email, password, password2=None):
    return client.post(
        reverse("account_signup"),
        {"email": email, "password1": password, "password2": password2 or password},
    )


def test_signup_sends_verification_email_and_confirming_it_verifies(client, django_capture_on_commit_callbacks):
    """A new buyer signs up, gets a verification mail (sent after commit) and confirms it."""
    with django_capture_on_commit_callbacks(execute=True):
        response = _signup(client, "mei@example.com", GOOD_PASSWORD)
    assert response.status_code == 302
    user = User.objects.get(email="mei@example.com")
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^\s]+/accounts/confirm-email/[^\s]+/", mail.outbox[0].body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    response = client.post("/" + path)
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=user).verified


def test_signup_mail_is_not_sent_when_the_transaction_rolls_back(client, django_capture_on_commit_callbacks):
    """Mail is queued with on_commit: a failed signup never mails anyone."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _signup(client, "nomail@example.com", GOOD_PASSWORD)
    assert len(callbacks) == 1
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-pw-1", "at least 12 characters"),
        ("password1234", "too common"),
        ("mei.lim.example", "too similar"),
        ("123456789012345", "entirely numeric"),
    ],
)
def test_signup_refuses_weak_passwords_with_a_clear_error(client, password, message):
    """Passwords: 12+ characters, not common, not like the email, not only digits."""
    response = _signup(client, "mei.lim@example.com", password)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.filter(email="mei.lim@example.com").exists()


def test_signup_with_a_taken_email_tells_the_owner_not_the_stranger(client, django_capture_on_commit_callbacks):
    """No account enumeration: the form looks the same, the owner gets an "already exists" mail."""
    owner = UserFactory(email="taken@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = _signup(client, "taken@example.com", GOOD_PASSWORD)
    assert response.status_code == 302
    assert User.objects.filter(email="taken@example.com").count() == 1
    owner.refresh_from_db()
    assert owner.check_password(DEFAULT_PASSWORD)
    assert len(mail.outbox) == 1
    assert "already" in mail.outbox[0].body.lower()


def test_unverified_user_cannot_sign_in(client):
    UserFactory(email="new@example.com", verified_email=False)
    EmailAddress.objects.create(user=User.objects.get(email="new@example.com"), email="new@example.com", verified=False)
    response = client.post(reverse("account_login"), {"login": "new@example.com", "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session


def test_sign_in_and_sign_out(client):
    user = UserFactory()
    response = client.post(reverse("account_login"), {"login": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    client.post(reverse("account_logout"))
    assert "_auth_user_id" not in client.session


def test_wrong_password_is_refused_with_a_message(client):
    user = UserFactory()
    response = client.post(reverse("account_login"), {"login": user.email, "password": "wrong-password-123"})
    assert response.status_code == 200
    assert "not correct" in response.content.decode()


def test_repeated_failures_lock_the_account_with_a_clear_message(client):
    """After five failed sign-ins, even the right password is refused for a while."""
    user = UserFactory()
    for _ in range(5):
        client.post(reverse("account_login"), {"login": user.email, "password": "wrong-password-123"})
    response = client.post(reverse("account_login"), {"login": user.email, "password": DEFAULT_PASSWORD})
    body = response.content.decode()
    assert "Too many failed sign-in attempts" in body
    assert "locked for 15 minutes" in body
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_account(client):
    """Another account on the same address still signs in."""
    locked, other = UserFactory(), UserFactory()
    for _ in range(5):
        client.post(reverse("account_login"), {"login": locked.email, "password": "wrong-password-123"})
    client.post(reverse("account_login"), {"login": other.email, "password": DEFAULT_PASSWORD})
    assert client.session["_auth_user_id"] == str(other.pk)


def test_password_reset_by_email(client, django_capture_on_commit_callbacks):
    """Forgotten password: a reset link arrives by mail and sets a new password."""
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": user.email})
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^\s]+/accounts/password/reset/key/[^\s]+/", mail.outbox[0].body).group(0)
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    response = client.get(path)  # allauth moves the key into the session and redirects
    form_url = response["Location"]
    new_password = "papaya-harbour-sunrise-9"
    response = client.post(form_url, {"password1": new_password, "password2": new_password})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new_password)


def test_password_change_requires_old_password_and_rules(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": DEFAULT_PASSWORD, "password1": "short", "password2": "short"},
    )
    assert "at least 12 characters" in response.content.decode()
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": DEFAULT_PASSWORD, "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(GOOD_PASSWORD)


def test_profile_page_updates_name_and_language(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        reverse("accounts:profile"), {"first_name": "Mei", "last_name": "Lim", "preferred_language": "zh-hans"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.first_name, user.preferred_language) == ("Mei", "zh-hans")
    assert response.cookies["django_language"].value == "zh-hans"


def test_profile_refuses_unknown_language(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("accounts:profile"), {"first_name": "", "last_name": "", "preferred_language": "xx"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
