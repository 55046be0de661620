"""Images sent with messages, served only to the people who may read their conversation: its buyer,
the shop's staff whose role may read messages, and platform support with MFA. Anyone else gets a
404, as for the conversation itself; the files are never linked from public storage."""

from __future__ import annotations

import mimetypes

from django.contrib.auth.decorators import login_required
from django.http import FileResponse
from django.views.decorators.http import require_GET

from .selectors import message_attachment_get_for_user


def attachment_response(message) -> FileResponse:
    content_type = mimetypes.guess_type(message.attachment.name)[0] or "application/octet-stream"
    response = FileResponse(message.attachment.open("rb"), content_type=content_type)
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_GET
def message_attachment(request, message_id: int):
    return attachment_response(message_attachment_get_for_user(user=request.user, message_id=message_id))
