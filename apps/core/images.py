"""Checks for uploaded images: a real JPEG, PNG or WebP (decoded by Pillow), not too big."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_PIXELS = 40_000_000  # refuse decompression bombs


def validate_uploaded_image(upload) -> None:
    """Raise ValidationError with a message a seller can act on."""
    max_bytes = settings.IMAGE_UPLOAD_MAX_BYTES
    if upload.size > max_bytes:
        raise ValidationError(
            _("This image is %(size).1f MB; the limit is %(max).0f MB. Use a smaller photo.")
            % {"size": upload.size / 1_000_000, "max": max_bytes / 1_000_000},
            code="image_too_large",
        )
    position = upload.tell() if hasattr(upload, "tell") else 0
    try:
        with Image.open(upload) as image:
            fmt = image.format
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValidationError(
            _("This file is not an image we can read. Upload a JPEG, PNG or WebP photo."), code="not_an_image"
        ) from exc
    finally:
        if hasattr(upload, "seek"):
            upload.seek(position)
    if fmt not in ALLOWED_FORMATS:
        raise ValidationError(
            _("%(format)s images are not accepted. Upload a JPEG, PNG or WebP photo.") % {"format": fmt},
            code="image_format",
        )
    if width * height > MAX_PIXELS:
        raise ValidationError(_("This image has too many pixels. Use one under 40 megapixels."), code="image_pixels")
