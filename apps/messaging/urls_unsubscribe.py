"""The unsubscribe link of notification emails, mounted at ``messages/unsubscribe/``
(namespace ``messaging_unsubscribe``). No sign-in: the signed token is the permission."""

from django.urls import path

from .views_unsubscribe import unsubscribe

urlpatterns = [
    path("<str:token>/", unsubscribe, name="unsubscribe"),
]
