"""The seller's shared inbox, mounted at ``sell/<shop_slug>/messages/`` (namespace ``messaging_seller``)."""

from django.urls import path

from . import views_seller as views

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("unread/", views.unread_count, name="unread-count"),
    path("blocked/", views.blocked_list, name="blocked"),
    path("blocked/<int:block_id>/unblock/", views.blocked_unblock, name="unblock"),
    path("<int:conversation_id>/", views.conversation_detail, name="conversation"),
    path("<int:conversation_id>/new/", views.conversation_new_messages, name="new-messages"),
    path("<int:conversation_id>/reply/", views.conversation_reply, name="reply"),
    path("<int:conversation_id>/assign/", views.conversation_assign_view, name="assign"),
    path("<int:conversation_id>/archive/", views.conversation_archive_view, name="archive"),
    path("<int:conversation_id>/block/", views.conversation_block, name="block"),
    path("<int:conversation_id>/report/", views.conversation_report_view, name="report"),
    path("<int:conversation_id>/notifications/", views.conversation_notifications, name="notifications"),
]
