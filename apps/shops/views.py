"""Seller portal (shops part): open a shop, dashboard, settings, staff and invitations, API keys."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from apps.core.registry import seller_dashboard_panels

from .access import seller_view
from .errors import ShopError
from .forms import (
    ApiKeyForm,
    InvitationForm,
    MemberRoleForm,
    OpeningHoursFormSet,
    ShopOpenForm,
    ShopPhotoForm,
    ShopSettingsForm,
)
from .models import OpeningHours
from .permissions import MATRIX, Perm, Role
from .selectors import (
    dedicated_shop_slug,
    invitation_get_by_token,
    shop_api_key_get,
    shop_api_keys,
    shop_invitation_get,
    shop_invitations_open,
    shop_member_get,
    shop_members,
    user_memberships,
)
from .services import (
    Hours,
    api_key_create,
    api_key_revoke,
    invitation_accept,
    invitation_create,
    invitation_revoke,
    membership_change_role,
    membership_remove,
    shop_open,
    shop_opening_hours_set,
    shop_photo_add,
    shop_photo_remove,
    shop_update,
)


def _apply_errors(form, exc: ShopError) -> None:
    form.add_error(None, exc.message)


@login_required
def seller_home(request):
    memberships = list(user_memberships(user=request.user))
    if len(memberships) == 1:
        return redirect("shops:dashboard", shop_slug=memberships[0].shop.slug)
    return render(
        request,
        "shops/seller_home.html",
        {"memberships": memberships, "can_open": dedicated_shop_slug() is None},
    )


def tenancy_explained(request):
    return render(request, "shops/tenancy.html")


@login_required
@require_http_methods(["GET", "POST"])
def shop_open_view(request):
    if dedicated_shop_slug():
        raise Http404("This site serves one shop.")
    form = ShopOpenForm(request.POST or None, initial={"country": "SG", "currency": "SGD"})
    if request.method == "POST" and form.is_valid():
        try:
            shop = shop_open(owner=request.user, **form.cleaned_data)
        except ShopError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Your shop “%(name)s” is open. Add your first products.") % {"name": shop.name})
            return redirect("shops:dashboard", shop_slug=shop.slug)
    return render(request, "shops/shop_open.html", {"form": form})


@seller_view(Perm.DASHBOARD_VIEW)
def dashboard(request):
    panels = [panel for _name, func in seller_dashboard_panels.items() if (panel := func(request.membership))]
    return render(
        request, "shops/dashboard.html", {"shop": request.shop, "membership": request.membership, "panels": panels}
    )


def _hours_initial(shop) -> list[dict]:
    existing = {h.weekday: h for h in shop.opening_hours.all()}
    rows = []
    for day in OpeningHours.Weekday:
        h = existing.get(day.value)
        rows.append(
            {
                "weekday": day.value,
                "closed": h is None,
                "opens": h.opens if h else None,
                "closes": h.closes if h else None,
            }
        )
    return rows


@seller_view(Perm.SHOP_EDIT)
@require_http_methods(["GET", "POST"])
def shop_settings(request):
    shop = request.shop
    form = ShopSettingsForm(request.POST or None, instance=shop, prefix="shop")
    hours = OpeningHoursFormSet(request.POST or None, initial=_hours_initial(shop), prefix="hours")
    if request.method == "POST" and form.is_valid() and hours.is_valid():
        try:
            shop_update(shop=shop, **form.cleaned_data)
            shop_opening_hours_set(
                shop=shop,
                hours=[Hours(d["weekday"], d["opens"], d["closes"]) for d in hours.cleaned_data if not d.get("closed")],
            )
        except ShopError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Shop settings saved."))
            return redirect("shops:settings", shop_slug=shop.slug)
    day_names = dict(OpeningHours.Weekday.choices)
    hour_rows = [(day_names[f.initial["weekday"]], f) for f in hours.forms]
    return render(
        request,
        "shops/settings.html",
        {"shop": shop, "form": form, "hours": hours, "hour_rows": hour_rows, "photo_form": ShopPhotoForm()},
    )


@seller_view(Perm.SHOP_EDIT)
@require_POST
def shop_photo_upload(request):
    form = ShopPhotoForm(request.POST, request.FILES)
    if form.is_valid():
        shop_photo_add(shop=request.shop, **form.cleaned_data)
        messages.success(request, _("Photo added."))
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("shops:settings", shop_slug=request.shop.slug)


@seller_view(Perm.SHOP_EDIT)
@require_POST
def shop_photo_delete(request, photo_id: int):
    try:
        shop_photo_remove(shop=request.shop, photo_id=photo_id)
    except ShopError as exc:
        raise Http404(exc.message) from exc
    messages.success(request, _("Photo removed."))
    return redirect("shops:settings", shop_slug=request.shop.slug)


@seller_view(Perm.STAFF_MANAGE)
@require_http_methods(["GET", "POST"])
def staff(request):
    shop = request.shop
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation_create(
                shop=shop, invited_by=request.user, base_url=request.build_absolute_uri("/"), **form.cleaned_data
            )
        except ShopError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]})
            return redirect("shops:staff", shop_slug=shop.slug)
    context = {
        "shop": shop,
        "form": form,
        "members": shop_members(shop=shop),
        "invitations": shop_invitations_open(shop=shop),
        "roles": Role.choices,
        "matrix": [(perm, [perm in MATRIX[role] for role in Role]) for perm in Perm],
    }
    return render(request, "shops/staff.html", context)


@seller_view(Perm.STAFF_MANAGE)
@require_POST
def member_role(request, membership_id: int):
    membership = shop_member_get(shop=request.shop, membership_id=membership_id)
    form = MemberRoleForm(request.POST)
    if form.is_valid():
        try:
            membership_change_role(membership=membership, role=form.cleaned_data["role"])
            messages.success(request, _("Role changed."))
        except ShopError as exc:
            messages.error(request, exc.message)
    return redirect("shops:staff", shop_slug=request.shop.slug)


@seller_view(Perm.STAFF_MANAGE)
@require_POST
def member_remove(request, membership_id: int):
    membership = shop_member_get(shop=request.shop, membership_id=membership_id)
    try:
        membership_remove(membership=membership)
        messages.success(request, _("%(email)s no longer has access.") % {"email": membership.user.email})
    except ShopError as exc:
        messages.error(request, exc.message)
    return redirect("shops:staff", shop_slug=request.shop.slug)


@seller_view(Perm.STAFF_MANAGE)
@require_POST
def invitation_revoke_view(request, invitation_id: int):
    invitation_revoke(invitation=shop_invitation_get(shop=request.shop, invitation_id=invitation_id))
    messages.success(request, _("Invitation withdrawn."))
    return redirect("shops:staff", shop_slug=request.shop.slug)


@login_required
@require_http_methods(["GET", "POST"])
def invitation_accept_view(request, token: str):
    invitation = invitation_get_by_token(token=token)
    if request.method == "POST":
        try:
            membership = invitation_accept(token=token, user=request.user)
        except ShopError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Welcome to %(shop)s.") % {"shop": membership.shop.name})
            return redirect("shops:dashboard", shop_slug=membership.shop.slug)
    return render(request, "shops/invitation_accept.html", {"invitation": invitation})


@seller_view(Perm.API_KEYS_MANAGE)
@require_http_methods(["GET", "POST"])
def api_keys(request):
    shop = request.shop
    form = ApiKeyForm(request.POST or None)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        try:
            _key, new_secret = api_key_create(shop=shop, created_by=request.user, **form.cleaned_data)
        except ShopError as exc:
            _apply_errors(form, exc)
        else:
            form = ApiKeyForm()
    return render(
        request,
        "shops/api_keys.html",
        {"shop": shop, "form": form, "keys": shop_api_keys(shop=shop), "new_secret": new_secret},
    )


@seller_view(Perm.API_KEYS_MANAGE)
@require_POST
def api_key_revoke_view(request, key_id: int):
    api_key_revoke(key=shop_api_key_get(shop=request.shop, key_id=key_id))
    messages.success(request, _("API key revoked: it stops working now."))
    return redirect("shops:api-keys", shop_slug=request.shop.slug)
