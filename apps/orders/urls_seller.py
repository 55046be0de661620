from django.urls import path

from . import views_documents
from . import views_seller as views

urlpatterns = [
    path("", views.order_list, name="list"),
    path("bulk/", views.order_bulk, name="bulk"),
    path("<str:number>/", views.order_detail, name="detail"),
    path("<str:number>/move/", views.order_move_view, name="move"),
    path("<str:number>/lines/refund/", views.order_lines_refund_view, name="lines-refund"),
    path("<str:number>/lines/cancel/", views.order_line_cancel_view, name="line-cancel"),
    path("<str:number>/collect/", views.order_collect, name="collect"),
    path("<str:number>/refund/", views.order_refund_view, name="refund"),
    path("<str:number>/invoice/", views_documents.seller_invoice, name="invoice"),
    path("<str:number>/invoice.pdf", views_documents.seller_invoice_pdf, name="invoice-pdf"),
    path("<str:number>/credit-notes/<int:document_id>/", views_documents.seller_credit_note, name="credit-note"),
    path(
        "<str:number>/credit-notes/<int:document_id>/pdf/",
        views_documents.seller_credit_note_pdf,
        name="credit-note-pdf",
    ),
    path("<str:number>/dispatch-guide/", views_documents.seller_dispatch_guide, name="dispatch-guide"),
    path("<str:number>/dispatch-guide/pdf/", views_documents.seller_dispatch_guide_pdf, name="dispatch-guide-pdf"),
]
