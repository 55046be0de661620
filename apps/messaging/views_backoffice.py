"""Moderation in the back office (``/backoffice/messages/``): the reports (open first), a reported
conversation read-only, resolving a report (dismiss, or action taken with a note), and blocking the
buyer for the conversation's shop.

Platform staff with MFA verified only (``staff_view`` from the orders back office): anyone else
signed in gets a 404. Platform support may read any conversation; each reading is written to the
audit log, since these are private conversations.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.core.errors import ApplicationError
from apps.core.services import audit_log_record
from apps.orders.views_backoffice import staff_view

from . import selectors_backoffice as sel
from .forms_backoffice import BuyerBlockForm, ReportResolveForm
from .selectors import conversation_get_for_staff, messages_for_conversation
from .services import buyer_block, report_resolve

REPORTS_PER_PAGE = 50


@staff_view
@require_GET
def report_list(request):
    show = request.GET.get("show", "open")
    if show not in sel.REPORT_TABS:
        show = "open"
    page = Paginator(sel.reports_for_staff(show=show), REPORTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "messaging/backoffice/report_list.html",
        {"page": page, "page_obj": page, "reports": page.object_list, "show": show, "section": "messages"},
    )


@staff_view
@require_GET
def conversation_detail(request, conversation_id: int):
    conversation = conversation_get_for_staff(pk=conversation_id)
    audit_log_record(
        actor=request.user,
        action="action",
        obj=conversation,
        changes={"read": True},
        reason="read in the moderation back office",
        source="backoffice",
    )
    return render(
        request,
        "messaging/backoffice/conversation.html",
        {
            "conversation": conversation,
            "thread": list(messages_for_conversation(conversation=conversation)),
            "reports": sel.reports_for_conversation(conversation=conversation),
            "block": sel.buyer_block_for(conversation=conversation),
            "resolve_form": ReportResolveForm(),
            "block_form": BuyerBlockForm(),
            "section": "messages",
        },
    )


@staff_view
@require_POST
def report_resolve_view(request, report_id: int):
    report = sel.report_get_for_staff(pk=report_id)
    form = ReportResolveForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    else:
        try:
            report_resolve(
                report=report,
                staff_user=request.user,
                status=form.cleaned_data["status"],
                note=form.cleaned_data["note"].strip(),
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The report is resolved."))
    return redirect("messaging_backoffice:conversation", conversation_id=report.conversation_id)


@staff_view
@require_POST
def buyer_block_view(request, conversation_id: int):
    conversation = conversation_get_for_staff(pk=conversation_id)
    form = BuyerBlockForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason for blocking the buyer."))
    else:
        try:
            buyer_block(
                shop=conversation.shop,
                buyer=conversation.buyer,
                blocked_by=request.user,
                reason=form.cleaned_data["reason"].strip(),
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("%(buyer)s can no longer message %(shop)s.")
                % {"buyer": conversation.buyer.email, "shop": conversation.shop.name},
            )
    return redirect("messaging_backoffice:conversation", conversation_id=conversation.pk)
