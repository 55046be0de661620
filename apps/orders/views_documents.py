"""An order's documents as pages and PDFs: the tax invoice and credit notes (seller and buyer) and
the dispatch guide (seller).

Seller doors are scoped by ``@seller_view(Perm.ORDERS_VIEW)`` and read the order with
``order_get_for_shop``, so another shop's order is 404; buyer doors read it with
``order_get_for_buyer``, so anyone else's order is 404. Documents are shown as issued (their frozen
contents); an invoice not issued yet is a page that says when it will be (status 404).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from apps.shops.access import seller_view
from apps.shops.permissions import Perm

from .documents_pdf import dispatch_guide_pdf, document_pdf
from .models import OrderDocument
from .selectors import order_get_for_buyer, order_get_for_shop
from .selectors_documents import credit_note_get_for_order, dispatch_guide_view, document_context, invoice_get
from .services_documents import document_pdf_filename


def _pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _document_page(request, template: str, *, order, document: OrderDocument, pdf_url: str, **extra):
    context = {"order": order, "pdf_url": pdf_url, **document_context(document=document), **extra}
    return render(request, template, context)


# --- seller portal -------------------------------------------------------------------------------


def _seller_context(request) -> dict:
    return {"shop": request.shop, "membership": request.membership}


@seller_view(Perm.ORDERS_VIEW)
@require_GET
def seller_invoice(request, number: str):
    order = order_get_for_shop(shop=request.shop, number=number)
    invoice = invoice_get(order=order)
    if invoice is None:
        return render(
            request, "orders/documents/seller_not_issued.html", {"order": order, **_seller_context(request)}, status=404
        )
    return _document_page(
        request,
        "orders/documents/seller_document.html",
        order=order,
        document=invoice,
        pdf_url=reverse("orders_seller:invoice-pdf", args=[request.shop.slug, order.number]),
        **_seller_context(request),
    )


@seller_view(Perm.ORDERS_VIEW)
@require_GET
def seller_invoice_pdf(request, number: str):
    order = order_get_for_shop(shop=request.shop, number=number)
    invoice = invoice_get(order=order)
    if invoice is None:
        return render(
            request, "orders/documents/seller_not_issued.html", {"order": order, **_seller_context(request)}, status=404
        )
    return _pdf_response(document_pdf(document=invoice), document_pdf_filename(invoice))


@seller_view(Perm.ORDERS_VIEW)
@require_GET
def seller_credit_note(request, number: str, document_id: int):
    order = order_get_for_shop(shop=request.shop, number=number)
    note = credit_note_get_for_order(order=order, document_id=document_id)
    return _document_page(
        request,
        "orders/documents/seller_document.html",
        order=order,
        document=note,
        pdf_url=reverse("orders_seller:credit-note-pdf", args=[request.shop.slug, order.number, note.pk]),
        **_seller_context(request),
    )


@seller_view(Perm.ORDERS_VIEW)
@require_GET
def seller_credit_note_pdf(request, number: str, document_id: int):
    order = order_get_for_shop(shop=request.shop, number=number)
    note = credit_note_get_for_order(order=order, document_id=document_id)
    return _pdf_response(document_pdf(document=note), document_pdf_filename(note))


@seller_view(Perm.ORDERS_VIEW)
@require_GET
def seller_dispatch_guide(request, number: str):
    order = order_get_for_shop(shop=request.shop, number=number)
    return render(
        request,
        "orders/documents/seller_dispatch_guide.html",
        {"order": order, "guide": dispatch_guide_view(order=order), **_seller_context(request)},
    )


@seller_view(Perm.ORDERS_VIEW)
@require_GET
def seller_dispatch_guide_pdf(request, number: str):
    order = order_get_for_shop(shop=request.shop, number=number)
    return _pdf_response(dispatch_guide_pdf(guide=dispatch_guide_view(order=order)), f"dispatch-{order.number}.pdf")


# --- the buyer -----------------------------------------------------------------------------------


@login_required
@require_GET
def buyer_invoice(request, number: str):
    order = order_get_for_buyer(buyer=request.user, number=number)
    invoice = invoice_get(order=order)
    if invoice is None:
        return render(request, "orders/documents/buyer_not_issued.html", {"order": order}, status=404)
    return _document_page(
        request,
        "orders/documents/buyer_document.html",
        order=order,
        document=invoice,
        pdf_url=reverse("orders:invoice-pdf", args=[order.number]),
    )


@login_required
@require_GET
def buyer_invoice_pdf(request, number: str):
    order = order_get_for_buyer(buyer=request.user, number=number)
    invoice = invoice_get(order=order)
    if invoice is None:
        return render(request, "orders/documents/buyer_not_issued.html", {"order": order}, status=404)
    return _pdf_response(document_pdf(document=invoice), document_pdf_filename(invoice))


@login_required
@require_GET
def buyer_credit_note(request, number: str, document_id: int):
    order = order_get_for_buyer(buyer=request.user, number=number)
    note = credit_note_get_for_order(order=order, document_id=document_id)
    return _document_page(
        request,
        "orders/documents/buyer_document.html",
        order=order,
        document=note,
        pdf_url=reverse("orders:credit-note-pdf", args=[order.number, note.pk]),
    )


@login_required
@require_GET
def buyer_credit_note_pdf(request, number: str, document_id: int):
    order = order_get_for_buyer(buyer=request.user, number=number)
    note = credit_note_get_for_order(order=order, document_id=document_id)
    return _pdf_response(document_pdf(document=note), document_pdf_filename(note))
