"""One-click unsubscribe from a conversation's emails, from the link in the email itself.

The link carries a signed token (``services_notify.unsubscribe_token_make``) naming the
conversation and the side; no sign-in is needed. Opening it shows one button (so that mail scanners
that open links do not unsubscribe anyone); pressing it stops the emails. A link that was altered is
refused with a clear page. Emails are turned back on from the conversation page.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from .models import Conversation, Side
from .services import conversation_unsubscribe
from .services_notify import UnsubscribeTokenInvalid, conversation_url, unsubscribe_token_read


@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    try:
        conversation_id, side = unsubscribe_token_read(token=token)
    except UnsubscribeTokenInvalid:
        return render(request, "messaging/unsubscribe_invalid.html", status=400)
    conversation = Conversation.objects.select_related("shop").filter(pk=conversation_id).first()
    if conversation is None:
        raise Http404("No such conversation.")
    done = False
    if request.method == "POST":
        conversation = conversation_unsubscribe(conversation=conversation, side=side)
        done = True
    unsubscribed = conversation.buyer_unsubscribed if side == Side.BUYER else conversation.shop_unsubscribed
    return render(
        request,
        "messaging/unsubscribe.html",
        {
            "conversation": conversation,
            "side": side,
            "done": done,
            "unsubscribed": unsubscribed,
            "conversation_url": conversation_url(conversation=conversation, side=side),
        },
    )
