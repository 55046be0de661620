from django.urls import path

from .views import ConversationDetailApi, ConversationListApi, ConversationMessageImageApi, ConversationMessagesApi

urlpatterns = [
    path("shops/<slug:shop_slug>/conversations", ConversationListApi.as_view(), name="shop-conversation-list"),
    path(
        "shops/<slug:shop_slug>/conversations/<int:conversation_id>",
        ConversationDetailApi.as_view(),
        name="shop-conversation-detail",
    ),
    path(
        "shops/<slug:shop_slug>/conversations/<int:conversation_id>/messages",
        ConversationMessagesApi.as_view(),
        name="shop-conversation-messages",
    ),
    path(
        "shops/<slug:shop_slug>/conversations/<int:conversation_id>/messages/<int:message_id>/image",
        ConversationMessageImageApi.as_view(),
        name="shop-conversation-message-image",
    ),
]
