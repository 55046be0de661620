from django.urls import path

from . import views, views_documents

urlpatterns = [
    path("cart/", views.cart_page, name="cart"),
    path("cart/add/", views.cart_add_view, name="cart-add"),
    path("cart/lines/<int:line_id>/", views.cart_line_update, name="cart-line"),
    path("checkout/", views.checkout_page, name="checkout"),
    path("checkout/<str:number>/", views.checkout_done, name="checkout-done"),
    path("checkout/<str:number>/pay/", views.checkout_pay, name="checkout-pay"),
    path("checkout/<str:number>/return/", views.checkout_return, name="checkout-return"),
    path("checkout/<str:number>/cancel/", views.checkout_cancel_view, name="checkout-cancel"),
    path("one-click/", views.one_click_settings, name="one-click"),
    path("one-click/buy/", views.one_click_buy_view, name="one-click-buy"),
    path("orders/", views.order_list, name="orders"),
    path("orders/<str:number>/", views.order_page, name="order"),
    path("orders/<str:number>/invoice/", views_documents.buyer_invoice, name="invoice"),
    path("orders/<str:number>/invoice.pdf", views_documents.buyer_invoice_pdf, name="invoice-pdf"),
    path("orders/<str:number>/credit-notes/<int:document_id>/", views_documents.buyer_credit_note, name="credit-note"),
    path(
        "orders/<str:number>/credit-notes/<int:document_id>/pdf/",
        views_documents.buyer_credit_note_pdf,
        name="credit-note-pdf",
    ),
]
