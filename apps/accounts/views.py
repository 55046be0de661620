"""Account pages: two-factor setup, verification (at login and step-up), backup codes, profile,
and the address book."""

from __future__ import annotations

from functools import wraps

import allauth.account.internal.stagekit  # noqa: F401  (allauth's stages module must load after it)
import qrcode
import qrcode.image.svg
from allauth.account.stages import LoginStageController
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from .errors import AddressError, MfaError
from .forms import AddressForm, OtpCodeForm, ProfileForm, TotpConfirmForm
from .models import Address
from .selectors import (
    address_get_for_user,
    addresses_for_user,
    user_backup_codes_left,
    user_has_mfa,
    user_requires_mfa,
)
from .services import (
    ADDRESS_LIMIT,
    address_create,
    address_delete,
    address_make_default,
    address_update,
    mfa_backup_codes_regenerate,
    mfa_code_check,
    mfa_disable,
    mfa_totp_setup_begin,
    mfa_totp_setup_confirm,
    user_profile_update,
)
from .stages import OTP_STAGE_KEY

BACKUP_CODES_SESSION_KEY = "mfa_fresh_backup_codes"


def _safe_next(request, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next")
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return default


def _qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    return image.to_string(encoding="unicode")


@login_required
@never_cache
def mfa_overview(request):
    user = request.user
    context = {
        "has_mfa": user_has_mfa(user=user),
        "required": user_requires_mfa(user=user),
        "backup_codes_left": user_backup_codes_left(user=user),
        "fresh_codes": request.session.pop(BACKUP_CODES_SESSION_KEY, None),
        "next": _safe_next(request, ""),
    }
    return render(request, "accounts/mfa_overview.html", context)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def mfa_setup(request):
    user = request.user
    next_url = _safe_next(request, reverse("accounts:mfa"))
    try:
        device = mfa_totp_setup_begin(user=user)
    except MfaError as exc:
        messages.info(request, exc.message)
        return redirect("accounts:mfa")
    form = TotpConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = mfa_totp_setup_confirm(user=user, device_id=device.pk, code=form.cleaned_data["code"])
        except MfaError as exc:
            form.add_error("code", exc.message)
        else:
            otp_login(request, device)
            request.session[BACKUP_CODES_SESSION_KEY] = codes
            messages.success(request, _("Two-factor authentication is on. Keep your backup codes somewhere safe."))
            overview = reverse("accounts:mfa")
            # The backup codes are shown on the overview first; its Continue button leads on.
            return redirect(overview if next_url == overview else f"{overview}?{urlencode({'next': next_url})}")
    context = {
        "form": form,
        "qr_svg": _qr_svg(device.config_url),
        "secret": _base32_secret(device),
        "next": next_url,
    }
    return render(request, "accounts/mfa_setup.html", context)


def _base32_secret(device) -> str:
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def mfa_verify(request):
    """Step-up verification for a signed-in session (e.g. before the back office)."""
    next_url = _safe_next(request, reverse("catalog:home"))
    if request.user.is_verified():
        return redirect(next_url)
    if not user_has_mfa(user=request.user):
        return redirect(f"{reverse('accounts:mfa-setup')}?{urlencode({'next': next_url})}")
    form = OtpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = mfa_code_check(user=request.user, code=form.cleaned_data["code"])
        if result.device is not None:
            otp_login(request, result.device)
            return redirect(next_url)
        form.add_error("code", result.error)
    return render(request, "accounts/mfa_verify.html", {"form": form, "next": next_url, "at_login": False})


def _login_stage_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated:
            return redirect(_safe_next(request, reverse("catalog:home")))
        stage = LoginStageController.enter(request, OTP_STAGE_KEY)
        if stage is None:
            return redirect("account_login")
        request._login_stage = stage
        return view(request, *args, **kwargs)

    return never_cache(wrapper)


@_login_stage_required
@require_http_methods(["GET", "POST"])
def mfa_authenticate(request):
    """The code step of signing in: the session is logged in only after a right code."""
    stage = request._login_stage
    user = stage.login.user
    form = OtpCodeForm(request.POST or None)
    if request.method == "POST" and "cancel" in request.POST:
        return stage.abort()
    if request.method == "POST" and form.is_valid():
        result = mfa_code_check(user=user, code=form.cleaned_data["code"])
        if result.device is not None:
            # django-otp's user_logged_in receiver marks the new session as verified.
            user.otp_device = result.device
            return stage.exit()
        form.add_error("code", result.error)
    return render(request, "accounts/mfa_verify.html", {"form": form, "at_login": True})


@login_required
@require_POST
def mfa_backup_codes(request):
    if user_has_mfa(user=request.user) and not request.user.is_verified():
        return redirect(f"{reverse('accounts:mfa-verify')}?{urlencode({'next': reverse('accounts:mfa')})}")
    try:
        codes = mfa_backup_codes_regenerate(user=request.user)
    except MfaError as exc:
        messages.error(request, exc.message)
    else:
        request.session[BACKUP_CODES_SESSION_KEY] = codes
        messages.success(request, _("New backup codes are ready. The old ones no longer work."))
    return redirect("accounts:mfa")


@login_required
@require_POST
def mfa_turn_off(request):
    form = OtpCodeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a current code to turn two-factor authentication off."))
        return redirect("accounts:mfa")
    result = mfa_code_check(user=request.user, code=form.cleaned_data["code"])
    if result.device is None:
        messages.error(request, result.error)
        return redirect("accounts:mfa")
    try:
        mfa_disable(user=request.user)
    except MfaError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Two-factor authentication is off."))
    return redirect("accounts:mfa")


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        user_profile_update(user=request.user, **form.cleaned_data)
        messages.success(request, _("Your profile is saved."))
        response = redirect("accounts:profile")
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, form.cleaned_data["preferred_language"], samesite="Lax")
        return response
    return render(request, "accounts/profile.html", {"form": form})


def _address_form_errors(form, exc: ValidationError | AddressError) -> None:
    if isinstance(exc, AddressError):
        form.add_error(None, exc.message)
        return
    by_field = exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]
    for field, errors in by_field:
        form.add_error(field if field in form.fields else None, errors)


@login_required
@never_cache
@require_http_methods(["GET"])
def address_list(request):
    addresses = list(addresses_for_user(user=request.user))
    context = {"addresses": addresses, "limit": ADDRESS_LIMIT, "book_full": len(addresses) >= ADDRESS_LIMIT}
    return render(request, "accounts/address_list.html", context)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def address_create_view(request):
    next_url = _safe_next(request, reverse("accounts:addresses"))
    form = AddressForm(request.POST or None, instance=Address(user=request.user))
    if request.method == "POST" and form.is_valid():
        try:
            address_create(user=request.user, **form.cleaned_data)
        except (AddressError, ValidationError) as exc:
            _address_form_errors(form, exc)
        else:
            messages.success(request, _("Address saved."))
            return redirect(next_url)
    book_full = addresses_for_user(user=request.user).count() >= ADDRESS_LIMIT
    context = {"form": form, "creating": True, "book_full": book_full, "limit": ADDRESS_LIMIT, "next": next_url}
    return render(request, "accounts/address_form.html", context)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def address_edit(request, address_id: int):
    address = address_get_for_user(user=request.user, address_id=address_id)
    next_url = _safe_next(request, reverse("accounts:addresses"))
    form = AddressForm(request.POST or None, instance=address)
    if request.method == "POST" and form.is_valid():
        try:
            address_update(address=address, **form.cleaned_data)
        except (AddressError, ValidationError) as exc:
            _address_form_errors(form, exc)
        else:
            messages.success(request, _("Address saved."))
            return redirect(next_url)
    context = {"form": form, "address": address, "creating": False, "next": next_url}
    return render(request, "accounts/address_form.html", context)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def address_delete_view(request, address_id: int):
    """GET asks for confirmation (the page works without JavaScript); POST deletes."""
    address = address_get_for_user(user=request.user, address_id=address_id)
    if request.method == "GET":
        return render(request, "accounts/address_confirm_delete.html", {"address": address})
    try:
        address_delete(address=address)
    except AddressError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Address deleted."))
    return redirect("accounts:addresses")


@login_required
@require_POST
def address_make_default_view(request, address_id: int):
    address = address_get_for_user(user=request.user, address_id=address_id)
    try:
        address_make_default(address=address)
    except AddressError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("This is now your default address."))
    return redirect("accounts:addresses")
