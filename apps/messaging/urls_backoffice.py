"""Moderation pages, mounted at ``backoffice/messages/`` (namespace ``messaging_backoffice``)."""

from django.urls import path

from . import views_backoffice as views

urlpatterns = [
    path("", views.report_list, name="reports"),
    path("reports/<int:report_id>/resolve/", views.report_resolve_view, name="resolve"),
    path("conversations/<int:conversation_id>/", views.conversation_detail, name="conversation"),
    path("conversations/<int:conversation_id>/block/", views.buyer_block_view, name="block"),
]
