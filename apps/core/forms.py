"""What form views share: a valid POSTed form handed to one service, its refusal shown on the form."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages

from .errors import ApplicationError


def form_saved(request, form, save: Callable[..., object], success: str) -> bool:
    """POSTed and valid: call ``save(**arguments)`` (a service) with the form's service arguments
    (``form.service_kwargs()`` when the form converts its data, else ``cleaned_data``); True when it
    saved (with ``success`` as a message), False when the form is not valid or the service refused
    (its ``ApplicationError`` message is then shown on the form)."""
    if request.method != "POST" or not form.is_valid():
        return False
    arguments = form.service_kwargs() if hasattr(form, "service_kwargs") else form.cleaned_data
    try:
        save(**arguments)
    except ApplicationError as exc:
        form.add_error(None, exc.message)
        return False
    messages.success(request, success)
    return True
