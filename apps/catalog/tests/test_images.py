"""Product images: upload with clear errors, thumbnails built after commit, order, alt text, removal."""

from io import BytesIO

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from PIL import Image

from apps.catalog import images as catalog_images
from apps.catalog import tasks as catalog_tasks
from apps.catalog.errors import CatalogError
from apps.catalog.images import (
    product_image_add,
    product_image_move,
    product_image_remove,
    product_image_thumbnail_build,
)
from apps.catalog.models import ProductImage

from .factories import VariantFactory

pytestmark = pytest.mark.django_db

READY = ProductImage.ThumbnailStatus.READY
FAILED = ProductImage.ThumbnailStatus.FAILED
PENDING = ProductImage.ThumbnailStatus.PENDING


def image_bytes(*, fmt="JPEG", size=(800, 600), mode="RGB", color=(180, 40, 40), orientation=None) -> bytes:
    picture = Image.new(mode, size, color)
    out = BytesIO()
    extra = {}
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation  # EXIF Orientation
        extra["exif"] = exif.tobytes()
    picture.save(out, fmt, **extra)
    return out.getvalue()


def upload(name="photo.jpg", data=None, content_type="image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, image_bytes() if data is None else data, content_type=content_type)


def url(name, shop, *args):
    return reverse(f"catalog_seller:{name}", args=[shop.slug, *args])


@pytest.fixture
def product_of(seller):
    """``product_of(client)``: an owner logged in, with one product in their shop."""

    def _make(client, role="owner"):
        membership = seller(client, role=role)
        return VariantFactory(product__shop=membership.shop).product

    return _make


def stored_image(product, *, data: bytes, name="products/test.jpg", position=0) -> ProductImage:
    """An image row whose file was stored directly (bypassing upload checks, like a damaged file)."""
    record = ProductImage(product=product, position=position)
    record.image.save(name, ContentFile(data), save=False)
    record.save()
    return record


def thumbnail_of(record: ProductImage) -> Image.Image:
    record.refresh_from_db()
    with record.thumbnail.open("rb") as handle:
        picture = Image.open(BytesIO(handle.read()))
        picture.load()
    return picture


# --- upload ------------------------------------------------------------------------------------


def test_upload_stores_the_photo_and_builds_a_thumbnail(client, product_of, django_capture_on_commit_callbacks):
    """The upload is saved through storage; after commit the task makes a ≤400×400 WebP thumbnail."""
    product = product_of(client)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("image-upload", product.shop, product.pk), {"images": [upload()], "alt_text": " Red tote, front "}
        )
    assert response.status_code == 302
    assert response["Location"] == url("edit", product.shop, product.pk)
    record = ProductImage.objects.get(product=product)
    assert record.alt_text == "Red tote, front"
    assert record.thumbnail_status == READY
    assert record.image.name.startswith("products/") and record.image.name.endswith(".jpg")
    assert default_storage.exists(record.image.name)
    assert default_storage.exists(record.thumbnail.name)
    thumb = thumbnail_of(record)
    assert thumb.format == "WEBP"
    assert thumb.mode == "RGB"
    assert thumb.size == (400, 300)  # aspect kept


def test_several_photos_at_once_are_added_in_order(client, product_of, django_capture_on_commit_callbacks):
    product = product_of(client)
    files = [upload("a.jpg"), upload("b.png", image_bytes(fmt="PNG", size=(300, 900)), "image/png")]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("image-upload", product.shop, product.pk), {"images": files})
    assert response.status_code == 302
    records = list(ProductImage.objects.filter(product=product).order_by("position"))
    assert [r.position for r in records] == [0, 1]
    assert [r.image.name[-4:] for r in records] == [".jpg", ".png"]
    assert all(r.thumbnail_status == READY for r in records)
    assert thumbnail_of(records[1]).size == (133, 400)


def test_the_thumbnail_task_is_queued_only_after_commit(product_of, client, django_capture_on_commit_callbacks):
    product = product_of(client)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        product_image_add(product=product, image=upload())
        raise RuntimeError("rolled back")
    assert callbacks == []
    assert not ProductImage.objects.exists()

    with django_capture_on_commit_callbacks() as callbacks:
        record = product_image_add(product=product, image=upload())
    record.refresh_from_db()
    assert record.thumbnail_status == PENDING
    assert len(callbacks) == 1
    callbacks[0]()
    record.refresh_from_db()
    assert record.thumbnail_status == READY


def test_a_non_image_is_a_clear_form_error(client, product_of):
    product = product_of(client)
    response = client.post(
        url("image-upload", product.shop, product.pk),
        {"images": [upload("notes.jpg", b"these are my notes, not a photo", "image/jpeg")]},
    )
    assert response.status_code == 200
    errors = response.context["image_form"].errors["images"]
    assert errors == ["notes.jpg: This file is not an image we can read. Upload a JPEG, PNG or WebP photo."]
    assert 'role="alert"' in response.content.decode()
    assert not ProductImage.objects.exists()


def test_an_oversized_photo_is_a_clear_form_error(client, product_of, settings):
    settings.IMAGE_UPLOAD_MAX_BYTES = 2_000
    product = product_of(client)
    big = Image.effect_noise((300, 300), 100).convert("RGB")  # noise does not compress
    out = BytesIO()
    big.save(out, "PNG")
    data = out.getvalue()
    assert len(data) > settings.IMAGE_UPLOAD_MAX_BYTES
    response = client.post(
        url("image-upload", product.shop, product.pk), {"images": [upload("big.png", data, "image/png")]}
    )
    assert response.status_code == 200
    [error] = response.context["image_form"].errors["images"]
    assert error.startswith("big.png: This image is ") and "the limit is" in error
    assert not ProductImage.objects.exists()


def test_one_bad_file_in_a_batch_saves_none(client, product_of):
    product = product_of(client)
    response = client.post(
        url("image-upload", product.shop, product.pk),
        {"images": [upload("good.jpg"), upload("bad.jpg", b"nope", "image/jpeg")]},
    )
    assert response.status_code == 200
    assert not ProductImage.objects.exists()


def test_no_file_chosen_is_a_form_error(client, product_of):
    product = product_of(client)
    response = client.post(url("image-upload", product.shop, product.pk), {"alt_text": "x"})
    assert response.status_code == 200
    assert response.context["image_form"].errors["images"] == ["Choose one or more photos to upload."]


def test_the_image_limit_per_product_is_a_form_error(client, product_of, monkeypatch):
    monkeypatch.setattr(catalog_images, "MAX_IMAGES_PER_PRODUCT", 2)
    product = product_of(client)
    stored_image(product, data=image_bytes())
    response = client.post(
        url("image-upload", product.shop, product.pk), {"images": [upload("a.jpg"), upload("b.jpg")]}
    )
    assert response.status_code == 200
    assert "at most 2 images; there is room for 1 more" in response.content.decode()
    assert ProductImage.objects.filter(product=product).count() == 1


def test_warehouse_staff_cannot_upload(client, product_of):
    product = product_of(client, role="warehouse_staff")
    response = client.post(url("image-upload", product.shop, product.pk), {"images": [upload()]})
    assert response.status_code == 403
    assert not ProductImage.objects.exists()


# --- thumbnails --------------------------------------------------------------------------------


def test_a_corrupt_upload_ends_with_thumbnail_failed(client, product_of, django_capture_on_commit_callbacks):
    """A truncated JPEG passes the header check but cannot be decoded: FAILED, no endless retries."""
    product = product_of(client)
    data = image_bytes(size=(1200, 900))
    truncated = data[: len(data) // 3]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("image-upload", product.shop, product.pk), {"images": [upload("cut.jpg", truncated)]}
        )
    assert response.status_code == 302
    record = ProductImage.objects.get(product=product)
    assert record.thumbnail_status == FAILED
    assert not record.thumbnail
    page = client.get(url("edit", product.shop, product.pk)).content.decode()
    assert "We could not read this file to make a thumbnail." in page


def test_garbage_bytes_mark_the_thumbnail_failed(client, product_of, caplog):
    product = product_of(client)
    record = stored_image(product, data=b"\x89PNG\r\n\x1a\n garbage", name="products/garbage.png")
    assert product_image_thumbnail_build(image_id=record.pk) == ""
    record.refresh_from_db()
    assert record.thumbnail_status == FAILED
    assert "failed" in caplog.text


def test_a_missing_original_marks_the_thumbnail_failed(client, product_of):
    product = product_of(client)
    record = ProductImage.objects.create(product=product, image="products/never-stored.jpg")
    assert product_image_thumbnail_build(image_id=record.pk) == ""
    record.refresh_from_db()
    assert record.thumbnail_status == FAILED


def test_exif_orientation_is_applied(client, product_of):
    """A phone photo stored sideways with an "rotate 90°" EXIF tag gets an upright thumbnail."""
    product = product_of(client)
    record = stored_image(product, data=image_bytes(size=(800, 400), orientation=6))
    product_image_thumbnail_build(image_id=record.pk)
    assert thumbnail_of(record).size == (200, 400)


def test_transparent_areas_become_white(client, product_of):
    product = product_of(client)
    record = stored_image(
        product, data=image_bytes(fmt="PNG", size=(100, 100), mode="RGBA", color=(0, 0, 0, 0)), name="products/t.png"
    )
    product_image_thumbnail_build(image_id=record.pk)
    thumb = thumbnail_of(record)
    assert thumb.size == (100, 100)  # never enlarged
    assert all(channel > 245 for channel in thumb.getpixel((50, 50)))


def test_building_twice_keeps_the_first_thumbnail(client, product_of):
    product = product_of(client)
    record = stored_image(product, data=image_bytes())
    first = product_image_thumbnail_build(image_id=record.pk)
    assert first
    assert product_image_thumbnail_build(image_id=record.pk) == first


def test_building_for_a_removed_image_does_nothing(client, product_of):
    assert product_image_thumbnail_build(image_id=987654) == ""


def test_storage_errors_are_retried_then_the_image_is_marked_failed(client, product_of, monkeypatch):
    """The task owns retries: an unreachable storage is tried a bounded number of times, then FAILED."""
    product = product_of(client)
    record = stored_image(product, data=image_bytes())
    calls = []

    def storage_down(*, image_id):
        calls.append(image_id)
        raise OSError("storage unreachable")

    monkeypatch.setattr(catalog_tasks, "product_image_thumbnail_build", storage_down)
    task = catalog_tasks.product_image_thumbnail
    # Eager retries run in process only when eager errors are not re-raised at the first attempt.
    conf = task.app.conf
    propagates, conf.task_eager_propagates = conf.task_eager_propagates, False
    try:
        result = task.apply(kwargs={"image_id": record.pk})
    finally:
        conf.task_eager_propagates = propagates
    assert result.state == "FAILURE"
    assert isinstance(result.result, OSError)
    assert len(calls) == catalog_tasks.THUMBNAIL_MAX_RETRIES + 1
    record.refresh_from_db()
    assert record.thumbnail_status == FAILED


# --- order, alt text, removal ------------------------------------------------------------------


def test_photos_move_up_and_down(client, product_of):
    product = product_of(client)
    a, b, c = (stored_image(product, data=image_bytes(), position=p) for p in (0, 5, 9))
    response = client.post(url("image-move", product.shop, product.pk, c.pk), {"direction": "up"})
    assert response.status_code == 302
    order = lambda: list(ProductImage.objects.filter(product=product).order_by("position").values_list("pk", flat=True))  # noqa: E731
    assert order() == [a.pk, c.pk, b.pk]
    client.post(url("image-move", product.shop, product.pk, a.pk), {"direction": "down"})
    assert order() == [c.pk, a.pk, b.pk]
    client.post(url("image-move", product.shop, product.pk, c.pk), {"direction": "up"})  # already first
    assert order() == [c.pk, a.pk, b.pk]
    assert sorted(ProductImage.objects.values_list("position", flat=True)) == [0, 1, 2]


def test_move_needs_a_direction(client, product_of):
    product = product_of(client)
    record = stored_image(product, data=image_bytes())
    response = client.post(
        url("image-move", product.shop, product.pk, record.pk), {"direction": "sideways"}, follow=True
    )
    assert "Choose whether to move the image up or down." in response.content.decode()
    with pytest.raises(CatalogError):
        product_image_move(image=record, direction="sideways")


def test_alt_text_can_be_changed(client, product_of):
    product = product_of(client)
    record = stored_image(product, data=image_bytes())
    response = client.post(url("image-update", product.shop, product.pk, record.pk), {"alt_text": "Tote, side view"})
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.alt_text == "Tote, side view"
    page = client.get(url("edit", product.shop, product.pk)).content.decode()
    assert 'alt="Tote, side view"' in page


def test_removing_a_photo_deletes_its_files_after_commit(client, product_of, django_capture_on_commit_callbacks):
    product = product_of(client)
    record = stored_image(product, data=image_bytes(), name="products/to-remove.jpg")
    product_image_thumbnail_build(image_id=record.pk)
    record.refresh_from_db()
    names = [record.image.name, record.thumbnail.name]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("image-delete", product.shop, product.pk, record.pk))
    assert response.status_code == 302
    assert not ProductImage.objects.filter(pk=record.pk).exists()
    assert not any(default_storage.exists(name) for name in names)


def test_files_stay_when_the_removal_is_rolled_back(client, product_of, django_capture_on_commit_callbacks):
    product = product_of(client)
    record = stored_image(product, data=image_bytes(), name="products/keep.jpg")
    pk, name = record.pk, record.image.name
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        product_image_remove(image=record)
        raise RuntimeError("rolled back")
    assert default_storage.exists(name)
    assert ProductImage.objects.filter(pk=pk).exists()
