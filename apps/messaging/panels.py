"""What the messaging app adds to other apps' pages: "Ask about this product" on the product page."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse


def product_message_panel(request, product) -> dict:
    """A link to write to the shop about this product (signed-out visitors sign in first)."""
    return {
        "template": "messaging/buyer/_product_panel.html",
        "url": f"{reverse('messaging:new')}?{urlencode({'product': product.pk})}",
    }
