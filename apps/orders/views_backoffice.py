"""The back office for platform staff: order search, one order with its timeline and staff moves, the
incoming-order exception queues (dead letter, rejected) with fix-and-re-push, batch files, warnings
and statistics with charts.

Everything under ``/backoffice/`` needs a verified second factor (``MfaEnforcementMiddleware``);
``@staff_view`` adds: signed in (else the sign-in page), staff (else 404, the back office does not
exist for anyone else), and MFA verified in this session (checked again here so that the pages stay
closed even if the middleware's prefixes change).
"""

from __future__ import annotations

import json
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.errors import ApplicationError

from . import charts
from . import selectors_backoffice as sel
from .actors import Actor
from .forms_backoffice import IntakePayloadForm, OrderFileUploadForm, OrderSearchForm, StaffTransitionForm
from .models import Channel, OrderStatus, OrderWarning
from .services_files import order_file_receive
from .services_fulfilment import order_move
from .services_intake import intake_repush, intakes_repush
from .services_warnings import warning_acknowledge

ORDERS_PER_PAGE = 50
INTAKES_PER_PAGE = 50
FILES_PER_PAGE = 25
WARNINGS_PER_PAGE = 50
MAX_BULK_REPUSH = 500


def staff_view(view):
    """Signed-in platform staff with MFA verified only; anyone else signed in gets a 404."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not (request.user.is_active and request.user.is_staff):
            raise Http404("No such page.")
        if not request.user.is_verified():
            raise PermissionDenied(_("Verify with two-factor authentication first."))
        return view(request, *args, **kwargs)

    return wrapper


def _render(request, template: str, section: str, context: dict, status: int = 200):
    context = {**context, "section": section, "time_zone": sel.platform_tz().key}
    return render(request, template, context, status=status)


def _page(request, queryset, per_page: int):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


@staff_view
@require_GET
def backoffice_home(request):
    counts = sel.intakes_exception_counts()
    return _render(
        request,
        "orders/backoffice/home.html",
        "home",
        {"counts": counts, "open_warnings": sel.warnings_list(show="open").count()},
    )


# --- orders --------------------------------------------------------------------------------------


@staff_view
@require_GET
def order_search(request):
    form = OrderSearchForm(request.GET or None)
    filters = form.filters() if request.GET else {}
    orders = sel.orders_search(**filters) if not form.errors else sel.orders_search().none()
    page = _page(request, orders, ORDERS_PER_PAGE)
    return _render(
        request,
        "orders/backoffice/order_search.html",
        "orders",
        {"form": form, "page": page, "orders": page.object_list, "filtered": bool(filters)},
    )


@staff_view
@require_GET
def order_detail(request, number: str):
    order = sel.order_get_for_staff(number=number)
    return _render(
        request,
        "orders/backoffice/order_detail.html",
        "orders",
        {
            "order": order,
            "details": sel.order_details(order=order),
        },
    )


@staff_view
@require_POST
def order_transition_view(request, number: str):
    order = sel.order_get_for_staff(number=number)
    form = StaffTransitionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose the status to move the order to."))
    else:
        try:
            order_move(
                order=order,
                to=form.cleaned_data["to"],
                actor=Actor.staff(request.user),
                reason=form.cleaned_data["reason"],
                via="backoffice",
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("Order %(number)s is now %(status)s.")
                % {"number": order.number, "status": OrderStatus(form.cleaned_data["to"]).label},
            )
    return redirect("orders_backoffice:order", number=order.number)


# --- incoming orders: dead letter and rejected -----------------------------------------------------


@staff_view
@require_GET
def intake_queue(request):
    tab = request.GET.get("tab", "dead_letter")
    if tab not in sel.EXCEPTION_TABS:
        tab = "dead_letter"
    channel = request.GET.get("channel", "")
    if channel not in Channel.values:
        channel = ""
    shop = (request.GET.get("shop") or "").strip()[:100]
    page = _page(request, sel.intakes_exceptions(tab=tab, channel=channel, shop=shop), INTAKES_PER_PAGE)
    return _render(
        request,
        "orders/backoffice/intake_queue.html",
        "intakes",
        {
            "tab": tab,
            "counts": sel.intakes_exception_counts(),
            "page": page,
            "intakes": page.object_list,
            "channel": channel,
            "channels": Channel.choices,
            "shop": shop,
            "now": timezone.now(),
        },
    )


@staff_view
@require_http_methods(["GET", "POST"])
def intake_detail(request, intake_id: int):
    intake = sel.intake_get_for_staff(intake_id=intake_id)
    if request.method == "POST":
        form = IntakePayloadForm(request.POST)
        if form.is_valid():
            try:
                intake_repush(intake=intake, payload=form.cleaned_data["payload"], user=request.user)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request, _("Incoming order %(ref)s was pushed through again.") % {"ref": intake.external_ref}
                )
                return redirect("orders_backoffice:intake", intake_id=intake.pk)
    else:
        form = IntakePayloadForm(initial={"payload": json.dumps(intake.payload, indent=2, ensure_ascii=False)})
    return _render(
        request,
        "orders/backoffice/intake_detail.html",
        "intakes",
        {
            "intake": intake,
            "form": form,
            "can_repush": intake.status in sel.EXCEPTION_TABS.values(),
            "now": timezone.now(),
        },
        status=400 if form.errors else 200,
    )


@staff_view
@require_POST
def intakes_repush_view(request):
    tab = request.POST.get("tab", "dead_letter")
    back = f"{reverse('orders_backoffice:intakes')}?tab={tab if tab in sel.EXCEPTION_TABS else 'dead_letter'}"
    try:
        ids = sorted({int(value) for value in request.POST.getlist("intake")})
    except ValueError:
        ids = []
    if not ids:
        messages.error(request, _("Tick the incoming orders to push through again."))
        return redirect(back)
    if len(ids) > MAX_BULK_REPUSH:
        messages.error(request, _("Re-push at most %(max)s orders at a time.") % {"max": MAX_BULK_REPUSH})
        return redirect(back)
    try:
        result = intakes_repush(intake_ids=ids, user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        count = result if isinstance(result, int) else len(result) if result is not None else len(ids)
        messages.success(request, _("%(count)s incoming orders were pushed through again.") % {"count": count})
    return redirect(back)


# --- batch files -----------------------------------------------------------------------------------


@staff_view
@require_http_methods(["GET", "POST"])
def order_files(request):
    if request.method == "POST":
        form = OrderFileUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                order_file = order_file_receive(
                    uploaded_file=form.cleaned_data["file"], shop=None, user=request.user, label=request.user.email
                )
            except ApplicationError as exc:
                form.add_error("file", exc.message)
            else:
                messages.success(
                    request, _("%(name)s was received: its orders are being read.") % {"name": order_file.original_name}
                )
                return redirect("orders_backoffice:file", file_id=order_file.pk)
    else:
        form = OrderFileUploadForm()
    page = _page(request, sel.order_files_list(), FILES_PER_PAGE)
    return _render(
        request,
        "orders/backoffice/file_list.html",
        "files",
        {"form": form, "page": page, "files": page.object_list},
        status=400 if form.errors else 200,
    )


@staff_view
@require_GET
def order_file_detail(request, file_id: int):
    order_file = sel.order_file_get_for_staff(file_id=file_id)
    return _render(
        request,
        "orders/backoffice/file_detail.html",
        "files",
        {"file": order_file, "intake_counts": sel.order_file_intake_counts(order_file=order_file)},
    )


# --- warnings ------------------------------------------------------------------------------------


@staff_view
@require_GET
def warning_list(request):
    kind = request.GET.get("kind", "")
    if kind not in OrderWarning.Kind.values:
        kind = ""
    show = request.GET.get("show", "open")
    if show not in ("open", "acknowledged", "all"):
        show = "open"
    page = _page(request, sel.warnings_list(kind=kind, show=show), WARNINGS_PER_PAGE)
    return _render(
        request,
        "orders/backoffice/warning_list.html",
        "warnings",
        {"page": page, "warnings": page.object_list, "kind": kind, "kinds": OrderWarning.Kind.choices, "show": show},
    )


@staff_view
@require_POST
def warning_acknowledge_view(request, warning_id: int):
    warning = sel.warning_get_for_staff(warning_id=warning_id)
    try:
        warning_acknowledge(warning=warning, user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Warning acknowledged."))
    next_url = request.POST.get("next", "")
    if next_url.startswith(reverse("orders_backoffice:warnings")):
        return redirect(next_url)
    return redirect("orders_backoffice:warnings")


# --- statistics ----------------------------------------------------------------------------------


def _count_series(data: sel.CountSeries, labels_of: dict[str, str]) -> list[charts.Series]:
    return [charts.Series(str(labels_of.get(key, key)), values) for key, values in data.counts.items()]


@staff_view
@require_GET
def statistics(request):
    now = timezone.now()
    tz = sel.platform_tz()
    channel_labels = dict(Channel.choices)
    status_labels = dict(OrderStatus.choices)

    hourly = {by: sel.orders_per_hour(now=now, by=by) for by in ("channel", "status")}
    daily = {by: sel.orders_per_day(now=now, by=by) for by in ("channel", "status")}
    hour_labels = [date_format(b.astimezone(tz), "H:i") for b in hourly["channel"].buckets]
    day_labels = [date_format(b.astimezone(tz), "j M") for b in daily["channel"].buckets]
    labels_of = {"channel": channel_labels, "status": status_labels}
    by_names = {"channel": _("by channel"), "status": _("by status")}

    order_charts = []
    for by in ("channel", "status"):
        order_charts.append(
            charts.bar_chart(
                chart_id=f"orders-hour-{by}",
                title=_("Orders per hour, last 48 hours, %(by)s") % {"by": by_names[by]},
                description=_("%(total)s orders in the last 48 hours.") % {"total": sum(hourly[by].totals)},
                labels=hour_labels,
                series=_count_series(hourly[by], labels_of[by]),
                y_label=_("Orders"),
            )
        )
        order_charts.append(
            charts.bar_chart(
                chart_id=f"orders-day-{by}",
                title=_("Orders per day, last 30 days, %(by)s") % {"by": by_names[by]},
                description=_("%(total)s orders in the last 30 days.") % {"total": sum(daily[by].totals)},
                labels=day_labels,
                series=_count_series(daily[by], labels_of[by]),
                y_label=_("Orders"),
            )
        )

    durations = sel.state_durations(now=now)
    durations_chart = charts.bar_chart(
        chart_id="state-durations",
        title=_("Time spent in each status (hours), orders of the last 30 days"),
        description=_("Average and 90th percentile per status."),
        labels=[d.label for d in durations],
        series=[
            charts.Series(_("Average"), [round(d.average_hours, 1) for d in durations]),
            charts.Series(_("90th percentile"), [round(d.p90_hours, 1) for d in durations]),
        ],
        y_label=_("Hours"),
        stacked=False,
    )

    compliance = sel.dispatch_compliance_per_day(now=now)
    compliance_chart = charts.line_chart(
        chart_id="dispatch-compliance",
        title=_("Orders dispatched within their shop's dispatch time, per day (%)"),
        description=_("Share of the orders placed each day that were ready or handed over in time."),
        labels=day_labels,
        series=[
            charts.Series(
                _("On time"), [None if c.share is None else round(c.share * 100, 1) for _day, c in compliance]
            )
        ],
        y_label="%",
        y_max=100,
    )
    offenders = sel.dispatch_offenders(now=now)
    offenders_chart = charts.bar_chart(
        chart_id="dispatch-offenders",
        title=_("Orders dispatched late per shop, last 30 days"),
        description=_("The shops with the most late orders, worst first."),
        labels=[row.shop_name for row in offenders],
        series=[
            charts.Series(_("Late"), [row.compliance.late for row in offenders]),
            charts.Series(_("On time"), [row.compliance.on_time for row in offenders]),
        ],
        y_label=_("Orders"),
    )
    due = sum(c.due for _day, c in compliance)
    on_time = sum(c.on_time for _day, c in compliance)
    return _render(
        request,
        "orders/backoffice/statistics.html",
        "statistics",
        {
            "order_charts": order_charts,
            "durations": durations,
            "durations_chart": durations_chart,
            "compliance": [(day, c) for day, c in compliance if c.due],
            "compliance_chart": compliance_chart,
            "compliance_total": sel.Compliance(on_time, due - on_time),
            "offenders": offenders,
            "offenders_chart": offenders_chart if offenders else "",
        },
    )
