from django.urls import path

from . import views_attachments, views_buyer

urlpatterns = [
    path("", views_buyer.inbox, name="inbox"),
    path("unread/", views_buyer.unread_badge, name="unread-badge"),
    path("new/", views_buyer.conversation_new, name="new"),
    path("<int:pk>/", views_buyer.thread, name="thread"),
    path("<int:pk>/since/<int:last_id>/", views_buyer.since, name="since"),
    path("<int:pk>/messages/<int:message_id>/edit/", views_buyer.message_edit_view, name="edit"),
    path("<int:pk>/report/", views_buyer.report, name="report"),
    path("images/<int:message_id>/", views_attachments.message_attachment, name="attachment"),
]
