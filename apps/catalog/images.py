"""Product images: upload, alt text, order, removal, and the thumbnail built in Celery.

Files go through Django's storage API only (local disk in development, S3 in production, memory
in tests). The original is kept as uploaded; buyers' pages use the thumbnail once it is ready.
"""

from __future__ import annotations

import logging
import uuid
from io import BytesIO
from pathlib import PurePosixPath
from typing import Literal

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from apps.core.images import validate_uploaded_image
from apps.core.tasks_base import enqueue_on_commit

from .errors import CatalogError
from .models import Product, ProductImage
from .services import product_lock

logger = logging.getLogger(__name__)

MAX_IMAGES_PER_PRODUCT = 20
THUMBNAIL_SIZE = (400, 400)
THUMBNAIL_FORMAT = "WEBP"
THUMBNAIL_QUALITY = 80
_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}


def _image_format(upload: File) -> str:
    """Check the upload (size, a real JPEG/PNG/WebP) and return its Pillow format name."""
    try:
        validate_uploaded_image(upload)
    except ValidationError as exc:
        raise CatalogError(exc.messages[0]) from exc
    position = upload.tell()
    try:
        with Image.open(upload) as opened:
            return opened.format
    finally:
        upload.seek(position)


@transaction.atomic
def product_image_add(*, product: Product, image: File, alt_text: str = "") -> ProductImage:
    """Store an uploaded photo as the product's last image and queue its thumbnail (after commit)."""
    from .tasks import product_image_thumbnail  # tasks imports this module at load time

    product_lock(product)
    count = ProductImage.objects.filter(product=product).count()
    if count >= MAX_IMAGES_PER_PRODUCT:
        raise CatalogError(
            _("A product can have at most %(max)d images. Remove one before adding another.")
            % {"max": MAX_IMAGES_PER_PRODUCT}
        )
    fmt = _image_format(image)
    last = ProductImage.objects.filter(product=product).aggregate(last=Max("position"))["last"]
    record = ProductImage(
        product=product,
        alt_text=(alt_text or "").strip(),
        position=0 if last is None else last + 1,
        thumbnail_status=ProductImage.ThumbnailStatus.PENDING,
    )
    try:
        record.full_clean(exclude=["image", "thumbnail"])
    except ValidationError as exc:
        raise CatalogError(" ".join(exc.messages)) from exc
    # A generated name: the seller's file name may be long, non-ASCII or reveal private details.
    record.image.save(f"{uuid.uuid4().hex}{_EXTENSIONS[fmt]}", image, save=False)
    try:
        record.save()
    except Exception:
        record.image.delete(save=False)
        raise
    enqueue_on_commit(product_image_thumbnail, image_id=record.pk)
    return record


@transaction.atomic
def product_images_add(*, product: Product, images: list[File], alt_text: str = "") -> list[ProductImage]:
    """Add several photos at once: all of them or none. Everything is checked before the first file
    is stored, so a refusal leaves no stray files behind."""
    product_lock(product)
    room = MAX_IMAGES_PER_PRODUCT - ProductImage.objects.filter(product=product).count()
    if len(images) > room:
        raise CatalogError(
            _("A product can have at most %(max)d images; there is room for %(room)d more.")
            % {"max": MAX_IMAGES_PER_PRODUCT, "room": max(room, 0)}
        )
    for image in images:
        _image_format(image)
    return [product_image_add(product=product, image=image, alt_text=alt_text) for image in images]


@transaction.atomic
def product_image_update(*, image: ProductImage, alt_text: str) -> ProductImage:
    """Change the description screen readers read out for this image."""
    image.alt_text = (alt_text or "").strip()
    image.full_clean()
    image.save(update_fields=["alt_text", "updated_at"])
    return image


@transaction.atomic
def product_image_move(*, image: ProductImage, direction: Literal["up", "down"]) -> ProductImage:
    """Swap the image with its neighbour; moving the first up or the last down changes nothing.
    Positions are renumbered 0..n-1 on the way, so gaps left by removals disappear."""
    if direction not in ("up", "down"):
        raise CatalogError(_("Choose whether to move the image up or down."))
    product_lock(image.product)
    images = list(ProductImage.objects.filter(product_id=image.product_id).order_by("position", "id"))
    index = next((i for i, other in enumerate(images) if other.pk == image.pk), None)
    if index is None:
        raise CatalogError(_("This image was removed meanwhile. Reload the page."))
    target = index - 1 if direction == "up" else index + 1
    if 0 <= target < len(images):
        images[index], images[target] = images[target], images[index]
    changed = []
    for position, other in enumerate(images):
        if other.position != position:
            other.position = position
            changed.append(other)
    ProductImage.objects.bulk_update(changed, ["position"])
    return images[target] if 0 <= target < len(images) else image


def _delete_files(storage, names: list[str]) -> None:
    for name in names:
        storage.delete(name)


@transaction.atomic
def product_image_remove(*, image: ProductImage) -> None:
    """Remove the image; its files leave storage once the removal is committed."""
    product_lock(image.product)
    storage = image.image.storage
    names = [f.name for f in (image.image, image.thumbnail) if f]
    image.delete()
    transaction.on_commit(lambda: _delete_files(storage, names))


def _thumbnail_bytes(original: bytes) -> bytes:
    """The thumbnail of an image file: upright (EXIF orientation), RGB, within 400×400, WebP."""
    with Image.open(BytesIO(original)) as opened:
        opened.draft("RGB", (THUMBNAIL_SIZE[0] * 2, THUMBNAIL_SIZE[1] * 2))  # fast JPEG decode
        picture = ImageOps.exif_transpose(opened)
        if picture.mode in ("RGBA", "LA") or (picture.mode == "P" and "transparency" in picture.info):
            # Transparent areas become white, not black, once the alpha channel is dropped.
            rgba = picture.convert("RGBA")
            background = Image.new("RGB", rgba.size, (255, 255, 255))
            background.paste(rgba, mask=rgba.getchannel("A"))
            picture = background
        else:
            picture = picture.convert("RGB")
        picture.thumbnail(THUMBNAIL_SIZE, Image.Resampling.LANCZOS)
        out = BytesIO()
        picture.save(out, THUMBNAIL_FORMAT, quality=THUMBNAIL_QUALITY)
        return out.getvalue()


def product_image_thumbnail_fail(*, image_id: int, reason: str) -> None:
    """Mark the thumbnail as failed (the seller sees it and can upload the photo again)."""
    logger.warning("thumbnail for product image %s failed: %s", image_id, reason)
    ProductImage.objects.filter(pk=image_id).update(
        thumbnail_status=ProductImage.ThumbnailStatus.FAILED, updated_at=timezone.now()
    )


def product_image_thumbnail_build(*, image_id: int) -> str:
    """Build and store the image's thumbnail; return its storage name ("" when there is none).

    Idempotent: a ready thumbnail is kept. A file that cannot be decoded marks the image FAILED
    and returns (retrying cannot fix it); storage errors (``OSError``) propagate so the task retries.
    """
    image = ProductImage.objects.filter(pk=image_id).first()
    if image is None:
        logger.info("product image %s was removed before its thumbnail was built", image_id)
        return ""
    if image.thumbnail_status == ProductImage.ThumbnailStatus.READY and image.thumbnail:
        return image.thumbnail.name
    try:
        with image.image.open("rb") as handle:
            original = handle.read()
    except FileNotFoundError:
        product_image_thumbnail_fail(image_id=image_id, reason=f"original {image.image.name!r} is missing")
        return ""
    try:
        data = _thumbnail_bytes(original)
    except Exception as exc:  # untrusted bytes already in memory: any error means a broken file
        product_image_thumbnail_fail(image_id=image_id, reason=f"{type(exc).__name__}: {exc}")
        return ""
    storage = image.thumbnail.storage
    stale = image.thumbnail.name  # left by an earlier attempt that stopped half-way
    stem = PurePosixPath(image.image.name).stem
    image.thumbnail.save(f"{stem}.webp", ContentFile(data), save=False)
    updated = ProductImage.objects.filter(pk=image_id).update(
        thumbnail=image.thumbnail.name, thumbnail_status=ProductImage.ThumbnailStatus.READY, updated_at=timezone.now()
    )
    if not updated:  # removed while we worked: do not leave the new file behind
        storage.delete(image.thumbnail.name)
        return ""
    if stale and stale != image.thumbnail.name:
        storage.delete(stale)
    return image.thumbnail.name
