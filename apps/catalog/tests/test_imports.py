"""Bulk import of products from CSV: the file checks, the row report, the portal pages and the command."""

from __future__ import annotations

import csv
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from apps.catalog.errors import CatalogError
from apps.catalog.imports import MAX_UPLOAD_BYTES, import_job_create, import_job_process
from apps.catalog.models import ImportJob, Product, Variant
from apps.catalog.tasks import import_job_run
from apps.shops.tests.factories import MembershipFactory, ShopFactory

from .factories import CategoryFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db

HEADER = "product_ref,title,description,category,tags,status,sku,options,price,compare_at_price,weight_grams\n"
GOOD = (
    HEADER
    + "rattan-basket,Rattan basket,Hand-woven.,home-living,handmade|rattan,active,RB-S,size=S,25.00,,400\n"
    + "rattan-basket,,,,,,RB-M,size=M,32.00,38.00,550\n"
    + "batik-shirt,Batik shirt,Cotton.,clothing,batik,draft,BS-M-IND,size=M;colour=Indigo,59.00,,220\n"
    + "batik-shirt,,,,,,BS-L-IND,size=L;colour=Indigo,59.00,,240\n"
    + ",Kaya jam,,,,active,KAYA-250,,8.50,,300\n"
)
EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "products_example.csv"


@pytest.fixture
def categories():
    return [CategoryFactory(slug="home-living", name="Home"), CategoryFactory(slug="clothing", name="Clothing")]


def upload(text: str | bytes, name: str = "products.csv") -> SimpleUploadedFile:
    content = text.encode("utf-8") if isinstance(text, str) else text
    return SimpleUploadedFile(name, content, content_type="text/csv")


def run_import(django_capture_on_commit_callbacks, shop, text: str | bytes, user=None) -> ImportJob:
    """Upload ``text`` the way the portal does; the task runs (eagerly) once the upload commits."""
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(shop=shop, created_by=user, upload=upload(text))
    job.refresh_from_db()
    return job


def errors_at(job: ImportJob) -> set[tuple[int | None, str]]:
    return {(e["line"], e["column"]) for e in job.errors}


# --- importing --------------------------------------------------------------------------------------


def test_good_file_imports_products_with_their_variants(categories, django_capture_on_commit_callbacks):
    """Rows sharing a product_ref (or a title) make one product; each row is a variant."""
    shop = ShopFactory()
    job = run_import(django_capture_on_commit_callbacks, shop, GOOD)

    assert job.status == ImportJob.Status.DONE
    assert job.errors == []
    assert (job.total_rows, job.processed_rows, job.products_created, job.products_updated) == (5, 5, 3, 0)
    assert job.finished_at is not None and job.percent == 100

    basket = Product.objects.get(shop=shop, slug="rattan-basket")
    assert basket.title == "Rattan basket"
    assert basket.category.slug == "home-living"
    assert basket.status == Product.Status.ACTIVE and basket.published_at is not None
    assert sorted(basket.tags.values_list("name", flat=True)) == ["handmade", "rattan"]
    small, medium = basket.variants.order_by("position")
    assert (small.sku, small.options, small.price, small.compare_at_price, small.weight_grams) == (
        "RB-S",
        {"size": "S"},
        Decimal("25.00"),
        None,
        400,
    )
    assert (medium.sku, medium.price, medium.compare_at_price) == ("RB-M", Decimal("32.00"), Decimal("38.00"))

    shirt = Product.objects.get(shop=shop, slug="batik-shirt")
    assert shirt.status == Product.Status.DRAFT and shirt.published_at is None
    assert shirt.variants.get(sku="BS-L-IND").options == {"size": "L", "colour": "Indigo"}
    assert Product.objects.get(shop=shop, slug="kaya-jam").variants.count() == 1


def test_example_file_imports_cleanly(django_capture_on_commit_callbacks):
    """The example offered for download is a valid import file."""
    shop = ShopFactory()
    job = run_import(django_capture_on_commit_callbacks, shop, EXAMPLE.read_bytes())
    assert job.status == ImportJob.Status.DONE
    assert job.errors == []
    assert job.products_created == 3
    assert Variant.objects.filter(shop=shop).count() == 7


def test_utf8_with_bom_and_loose_headers_are_accepted(django_capture_on_commit_callbacks):
    """Excel's “CSV UTF-8” starts with a byte-order mark; header case and spaces do not matter."""
    shop = ShopFactory()
    text = "\ufeffTitle,SKU,Price,Compare at price\nKopi cup,KC-1,12.00,15.00\n"
    job = run_import(django_capture_on_commit_callbacks, shop, text.encode("utf-8"))
    assert job.errors == []
    assert Variant.objects.get(shop=shop, sku="KC-1").compare_at_price == Decimal("15.00")


@pytest.mark.parametrize(
    ("row", "column"),
    [
        (",,,,,,X-1,,10.00,,", "title"),
        ("p,Thing,,,,,X-1,,abc,,", "price"),
        ("p,Thing,,,,,X-1,,-5,,", "price"),
        ("p,Thing,,,,,X-1,,10.005,,", "price"),
        ("p,Thing,,,,,X-1,,,,", "price"),
        ("p,Thing,,,,,X-1,,10.00,10.00,", "compare_at_price"),
        ("p,Thing,,,,,X-1,,10.00,9.00,", "compare_at_price"),
        ("p,Thing,,,,,X-1,,10.00,,heavy", "weight_grams"),
        ("p,Thing,,,,,X-1,,10.00,,-3", "weight_grams"),
        ("p,Thing,,,,,X-1,,10.00,,1.5", "weight_grams"),
        ("p,Thing,,no-such-category,,,X-1,,10.00,,", "category"),
        ("p,Thing,,,,published,X-1,,10.00,,", "status"),
        ("p,Thing,,,,,X-1,size:M,10.00,,", "options"),
        ("p,Thing,,,,,X-1,size=M;size=L,10.00,,", "options"),
        ("p,Thing,,,,,,,10.00,,", "sku"),
        ("!!!,Thing,,,,,X-1,,10.00,,", "product_ref"),
    ],
)
def test_each_kind_of_bad_row_is_reported_by_line_and_column(row, column, django_capture_on_commit_callbacks):
    """A bad cell is reported with its line (the header is line 1) and column; the row is not imported."""
    shop = ShopFactory()
    job = run_import(django_capture_on_commit_callbacks, shop, HEADER + "ok,Good thing,,,,,OK-1,,5.00,,\n" + row + "\n")
    assert job.status == ImportJob.Status.DONE
    assert (3, column) in errors_at(job), job.errors
    assert all(e["message"] for e in job.errors)
    assert not Variant.objects.filter(shop=shop, sku="X-1").exists()
    assert Variant.objects.filter(shop=shop, sku="OK-1").exists()
    assert job.processed_rows == job.total_rows == 2


def test_bad_rows_are_reported_while_good_products_land(categories, django_capture_on_commit_callbacks):
    shop = ShopFactory()
    text = GOOD + "tea,Teh tarik mix,,,,,TEA-1,,abc,,\n" + "cup,Enamel cup,,,,,CUP-1,,9.00,,\n"
    job = run_import(django_capture_on_commit_callbacks, shop, text)

    assert job.errors == [{"line": 7, "column": "price", "message": job.errors[0]["message"]}]
    assert "abc" in job.errors[0]["message"]
    assert job.products_created == 4
    assert set(Product.objects.filter(shop=shop).values_list("slug", flat=True)) == {
        "rattan-basket",
        "batik-shirt",
        "kaya-jam",
        "cup",
    }


def test_a_product_with_one_bad_row_is_not_half_imported(django_capture_on_commit_callbacks):
    """Three variants, the middle one bad: no product and none of its variants are saved."""
    shop = ShopFactory()
    text = (
        HEADER
        + "mug,Clay mug,,,,active,MUG-S,size=S,12.00,,300\n"
        + "mug,,,,,,MUG-M,size=M,twelve,,350\n"
        + "mug,,,,,,MUG-L,size=L,16.00,,400\n"
    )
    job = run_import(django_capture_on_commit_callbacks, shop, text)
    assert errors_at(job) == {(3, "price")}
    assert job.products_created == 0
    assert not Product.objects.filter(shop=shop).exists()
    assert not Variant.objects.filter(shop=shop).exists()


def test_sku_of_another_product_is_a_bad_row_naming_that_product(django_capture_on_commit_callbacks):
    shop = ShopFactory()
    VariantFactory(product=ProductFactory(shop=shop, title="Old basket", slug="old-basket"), sku="RB-S")
    job = run_import(django_capture_on_commit_callbacks, shop, HEADER + "new-basket,New basket,,,,,RB-S,,20.00,,\n")
    assert errors_at(job) == {(2, "sku")}
    assert "Old basket" in job.errors[0]["message"] and "old-basket" in job.errors[0]["message"]
    assert not Product.objects.filter(shop=shop, slug="new-basket").exists()


def test_sku_repeated_in_the_file_is_reported_on_the_later_line(django_capture_on_commit_callbacks):
    shop = ShopFactory()
    text = HEADER + "a,Thing A,,,,,SAME,,1.00,,\n" + "b,Thing B,,,,,SAME,,2.00,,\n"
    job = run_import(django_capture_on_commit_callbacks, shop, text)
    assert errors_at(job) == {(3, "sku")}
    assert "line 2" in job.errors[0]["message"]
    assert Product.objects.filter(shop=shop).count() == 1


def test_contradicting_product_values_on_later_rows_are_reported(django_capture_on_commit_callbacks):
    shop = ShopFactory()
    text = HEADER + "mug,Clay mug,,,,active,M-1,,1.00,,\n" + "mug,Glass mug,,,,,M-2,,1.00,,\n"
    job = run_import(django_capture_on_commit_callbacks, shop, text)
    assert errors_at(job) == {(3, "title")}
    assert not Product.objects.filter(shop=shop).exists()


def test_a_quoted_cell_over_two_lines_keeps_later_line_numbers_right(django_capture_on_commit_callbacks):
    shop = ShopFactory()
    text = HEADER + 'a,Thing,"Line one\nline two",,,,A-1,,1.00,,\n' + "b,Other,,,,,B-1,,oops,,\n"
    job = run_import(django_capture_on_commit_callbacks, shop, text)
    assert errors_at(job) == {(4, "price")}
    assert Product.objects.get(shop=shop, slug="a").description == "Line one\nline two"


def test_reimporting_updates_instead_of_duplicating(categories, django_capture_on_commit_callbacks):
    """Products match by product_ref (slug), variants by SKU; variants not in the file stay."""
    shop = ShopFactory()
    run_import(django_capture_on_commit_callbacks, shop, GOOD)
    extra = VariantFactory(product=Product.objects.get(shop=shop, slug="batik-shirt"), sku="BS-XL-IND")

    changed = GOOD.replace("RB-M,size=M,32.00,38.00,550", "RB-M,size=M,30.00,,560").replace(
        "rattan-basket,,,,,,RB-M", "rattan-basket,,,,,,RB-M"
    )
    changed += "rattan-basket,,,,,,RB-L,size=L,39.00,,700\n"
    job = run_import(django_capture_on_commit_callbacks, shop, changed)

    assert job.errors == []
    assert (job.products_created, job.products_updated) == (0, 3)
    assert Product.objects.filter(shop=shop).count() == 3
    basket = Product.objects.get(shop=shop, slug="rattan-basket")
    assert list(basket.variants.order_by("position").values_list("sku", flat=True)) == ["RB-S", "RB-M", "RB-L"]
    medium = basket.variants.get(sku="RB-M")
    assert (medium.price, medium.compare_at_price, medium.weight_grams) == (Decimal("30.00"), None, 560)
    assert Variant.objects.filter(pk=extra.pk).exists()


def test_reimport_keeps_what_the_file_leaves_out(django_capture_on_commit_callbacks):
    """Empty product cells and columns missing from the file leave existing values alone."""
    shop = ShopFactory()
    category = CategoryFactory(slug="home-living")
    product = ProductFactory(shop=shop, slug="mug", title="Mug", description="Keep me", category=category)
    VariantFactory(product=product, sku="MUG-1", options={"size": "M"}, weight_grams=450, price=Decimal("10"))
    job = run_import(
        django_capture_on_commit_callbacks, shop, "product_ref,title,description,sku,price\nmug,,,MUG-1,12\n"
    )
    assert job.errors == [] and job.products_updated == 1
    product.refresh_from_db()
    variant = product.variants.get()
    assert (product.title, product.description, product.category) == ("Mug", "Keep me", category)
    assert (variant.price, variant.options, variant.weight_grams) == (Decimal("12.00"), {"size": "M"}, 450)


def test_titles_without_latin_letters_are_matched_by_title(django_capture_on_commit_callbacks):
    """A Chinese title cannot become a slug: the product is still created, and updated on re-import."""
    shop = ShopFactory()
    run_import(django_capture_on_commit_callbacks, shop, "title,sku,price\n咖啡杯,CUP-1,12.00\n咖啡杯,CUP-2,14.00\n")
    job = run_import(django_capture_on_commit_callbacks, shop, "title,sku,price\n咖啡杯,CUP-1,13.00\n")
    assert job.errors == [] and job.products_updated == 1
    product = Product.objects.get(shop=shop)
    assert product.title == "咖啡杯" and product.variants.count() == 2
    assert product.variants.get(sku="CUP-1").price == Decimal("13.00")


def test_a_finished_job_is_not_run_again(django_capture_on_commit_callbacks):
    """A task delivered twice (acks_late) does not import twice or reset the report."""
    shop = ShopFactory()
    job = run_import(django_capture_on_commit_callbacks, shop, HEADER + "a,Thing,,,,,A-1,,1.00,,\nb,,,,,,B-1,,x,,\n")
    finished_at = job.finished_at

    summary = import_job_run.delay(job_id=job.pk).get()

    job.refresh_from_db()
    assert summary["status"] == ImportJob.Status.DONE
    assert (summary["products_created"], summary["rows_with_errors"]) == (1, 1)
    assert job.finished_at == finished_at
    assert Product.objects.filter(shop=shop).count() == 1


def test_a_job_left_running_by_a_lost_worker_starts_over_without_duplicates(django_capture_on_commit_callbacks):
    """The message comes back after a worker died mid-file: the job restarts and finishes."""
    shop = ShopFactory()
    job = run_import(
        django_capture_on_commit_callbacks, shop, GOOD.replace(",home-living,", ",,").replace(",clothing,", ",,")
    )
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, processed_rows=2, errors=[])

    summary = import_job_run.delay(job_id=job.pk).get()

    assert summary["status"] == "done"
    assert (summary["processed_rows"], summary["products_created"], summary["products_updated"]) == (5, 0, 3)
    assert Product.objects.filter(shop=shop).count() == 3


def test_unreadable_stored_file_fails_the_job_with_a_message():
    shop = ShopFactory()
    job = import_job_create(shop=shop, created_by=None, upload=upload(GOOD), enqueue=False)
    job.file.storage.delete(job.file.name)

    summary = import_job_process(job_id=job.pk)

    job.refresh_from_db()
    assert summary["status"] == job.status == ImportJob.Status.FAILED
    assert job.errors and job.errors[0]["message"]
    assert job.finished_at is not None


def test_task_is_queued_only_when_the_upload_commits(django_capture_on_commit_callbacks):
    shop = ShopFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = import_job_create(shop=shop, created_by=None, upload=upload(GOOD))
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PENDING
    assert job.file.read().decode() == GOOD  # stored through the storage API

    callbacks[0]()

    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE


# --- rejected files --------------------------------------------------------------------------------


def test_missing_required_columns_reject_the_file_naming_them():
    shop = ShopFactory()
    with pytest.raises(CatalogError) as exc:
        import_job_create(shop=shop, created_by=None, upload=upload("title,description\nMug,Nice\n"))
    assert "sku" in exc.value.message and "price" in exc.value.message
    assert not ImportJob.objects.exists()


def test_semicolon_separated_file_gets_a_hint():
    with pytest.raises(CatalogError, match="commas"):
        import_job_create(shop=ShopFactory(), created_by=None, upload=upload("title;sku;price\nMug;M-1;5\n"))


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ("title,sku,price\nCafé crème,CC-1,4.50\n".encode("latin-1"), "products.csv", "UTF-8"),
        ("title,sku,price\nMug,M-1,5\n".encode("utf-16"), "products.csv", "UTF-8"),
        (b"PK\x03\x04\x14\x00\x06\x00binary spreadsheet", "products.csv", "not a CSV"),
        (b"title,sku,price\nMug,M-1,5\n", "products.xlsx", ".csv"),
        (b"", "products.csv", "empty"),
        (b"title,sku,price\n", "products.csv", "no products"),
    ],
)
def test_unusable_files_are_rejected_with_a_clear_message(content, name, message):
    with pytest.raises(CatalogError, match=message):
        import_job_create(shop=ShopFactory(), created_by=None, upload=upload(content, name=name))
    assert not ImportJob.objects.exists()


def test_oversized_file_is_rejected():
    content = (HEADER + "a,Thing,,,,,A-1,,1.00,,\n").encode() + b"#" * MAX_UPLOAD_BYTES
    with pytest.raises(CatalogError, match="too big"):
        import_job_create(shop=ShopFactory(), created_by=None, upload=upload(content))


# --- seller portal ----------------------------------------------------------------------------------


def test_upload_page_documents_the_format(client, seller, categories):
    membership = seller(client)
    response = client.get(reverse("catalog_imports:list", args=[membership.shop.slug]))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in body
    for column in ("product_ref", "compare_at_price", "weight_grams", "home-living"):
        assert column in body
    example = client.get(reverse("catalog_imports:example", args=[membership.shop.slug]))
    assert example.status_code == 200
    assert b"".join(example.streaming_content).startswith(b"product_ref,title")


def test_upload_through_the_portal_runs_the_import_and_shows_the_report(
    client, seller, django_capture_on_commit_callbacks
):
    membership = seller(client)
    shop = membership.shop
    text = HEADER + "a,Thing,,,,,A-1,,1.00,,\n" + "b,Other,,,,,B-1,,=1+1,,\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("catalog_imports:list", args=[shop.slug]), {"file": upload(text)})

    job = ImportJob.objects.get(shop=shop)
    assert response.status_code == 302
    assert response["Location"] == reverse("catalog_imports:detail", args=[shop.slug, job.pk])
    assert job.created_by == membership.user and job.original_name == "products.csv"

    page = client.get(response["Location"]).content.decode()
    assert "<progress" in page
    assert 'hx-trigger="every 1s"' not in page  # finished: no more polling
    assert "price" in page and "<td>3</td>" in page

    report = client.get(reverse("catalog_imports:errors-csv", args=[shop.slug, job.pk]))
    assert report["Content-Type"].startswith("text/csv")
    assert "attachment" in report["Content-Disposition"]
    rows = list(csv.reader(report.content.decode("utf-8-sig").splitlines()))
    assert rows[0] == ["line", "column", "message"]
    assert rows[1][:2] == ["3", "price"] and "=1+1" in rows[1][2]
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)  # no live formulas


def test_rejected_upload_shows_the_reason_on_the_form(client, seller):
    membership = seller(client)
    response = client.post(
        reverse("catalog_imports:list", args=[membership.shop.slug]), {"file": upload("title\nMug\n")}
    )
    assert response.status_code == 200
    assert "missing required columns" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_running_job_page_polls_its_progress_partial(client, seller):
    """While a job runs, the page polls the partial every second and offers a refresh link (no JS)."""
    membership = seller(client)
    shop = membership.shop
    job = import_job_create(shop=shop, created_by=membership.user, upload=upload(GOOD), enqueue=False)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, processed_rows=2)
    progress_url = reverse("catalog_imports:progress", args=[shop.slug, job.pk])
    detail_url = reverse("catalog_imports:detail", args=[shop.slug, job.pk])

    page = client.get(detail_url).content.decode()
    assert f'hx-get="{progress_url}"' in page
    assert 'hx-trigger="every 1s"' in page
    assert '<progress id="import-progress-bar" value="40" max="100">' in page
    assert f'href="{detail_url}"' in page

    partial = client.get(progress_url, headers={"HX-Request": "true"})
    body = partial.content.decode()
    assert partial.status_code == 200
    assert "<html" not in body and "seller-nav" not in body
    assert 'hx-trigger="every 1s"' in body and "2 of 5 rows" in body

    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.PENDING)
    import_job_process(job_id=job.pk)
    finished = client.get(progress_url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in finished
    assert 'value="100"' in finished


def test_failed_job_page_says_why_and_stops_polling(client, seller):
    membership = seller(client)
    job = import_job_create(shop=membership.shop, created_by=membership.user, upload=upload(GOOD), enqueue=False)
    job.file.storage.delete(job.file.name)
    import_job_process(job_id=job.pk)

    body = client.get(reverse("catalog_imports:detail", args=[membership.shop.slug, job.pk])).content.decode()

    assert "could not be imported" in body and "can no longer be read" in body
    progress = body[body.index('id="import-progress"') :].split(">", 1)[0]
    assert "hx-trigger" not in progress  # the progress block no longer polls


def test_job_list_shows_the_shops_imports(client, seller, django_assert_max_num_queries):
    membership = seller(client)
    shop = membership.shop
    ours = [
        import_job_create(
            shop=shop, created_by=membership.user, upload=upload(GOOD, name=f"batch-{n}.csv"), enqueue=False
        )
        for n in range(3)
    ]
    import_job_create(shop=ShopFactory(), created_by=None, upload=upload(GOOD, name="theirs.csv"), enqueue=False)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("catalog_imports:list", args=[shop.slug]))
    body = response.content.decode()
    for job in ours:
        assert reverse("catalog_imports:detail", args=[shop.slug, job.pk]) in body
        assert job.original_name in body
    assert "theirs.csv" not in body


def test_warehouse_staff_cannot_import(client, seller):
    membership = seller(client, role="warehouse_staff")
    shop = membership.shop
    job = import_job_create(shop=shop, created_by=None, upload=upload(GOOD), enqueue=False)
    for url in (
        reverse("catalog_imports:list", args=[shop.slug]),
        reverse("catalog_imports:example", args=[shop.slug]),
        reverse("catalog_imports:detail", args=[shop.slug, job.pk]),
        reverse("catalog_imports:progress", args=[shop.slug, job.pk]),
        reverse("catalog_imports:errors-csv", args=[shop.slug, job.pk]),
    ):
        assert client.get(url).status_code == 403, url
    response = client.post(reverse("catalog_imports:list", args=[shop.slug]), {"file": upload(GOOD)})
    assert response.status_code == 403
    assert ImportJob.objects.count() == 1


def test_inventory_manager_can_import(client, seller):
    membership = seller(client, role="inventory_manager")
    assert client.get(reverse("catalog_imports:list", args=[membership.shop.slug])).status_code == 200


def test_another_shops_job_is_not_found(client, seller):
    membership = seller(client)
    theirs = import_job_create(shop=ShopFactory(), created_by=None, upload=upload(GOOD), enqueue=False)
    for name in ("detail", "progress", "errors-csv"):
        url = reverse(f"catalog_imports:{name}", args=[membership.shop.slug, theirs.pk])
        assert client.get(url).status_code == 404, name


def test_non_member_gets_404_for_the_import_pages(client, seller):
    seller(client)
    other = MembershipFactory().shop
    assert client.get(reverse("catalog_imports:list", args=[other.slug])).status_code == 404


# --- management command -----------------------------------------------------------------------------


def test_command_imports_with_progress_and_a_summary(tmp_path):
    membership = MembershipFactory()
    shop = membership.shop
    ProductFactory(shop=shop, slug="rattan-basket")
    path = tmp_path / "products.csv"
    path.write_bytes(EXAMPLE.read_bytes() + b"tea,Teh tarik,,,,,TEA-1,,abc,,\n")
    out, err = StringIO(), StringIO()

    call_command("import_products", shop.slug, str(path), "--user", membership.user.email, stdout=out, stderr=err)

    lines = out.getvalue().strip().splitlines()
    assert lines[0].startswith("Importing 8 rows from products.csv")
    assert "[8/8] rows" in lines
    assert lines[-1] == "Imported 3 products (1 updated), 1 row with errors"
    assert "line 9, price:" in err.getvalue()
    job = ImportJob.objects.get(shop=shop)
    assert job.status == ImportJob.Status.DONE and job.created_by == membership.user


@pytest.mark.parametrize("what", ["shop", "file", "user", "content"])
def test_command_fails_with_a_non_zero_exit(tmp_path, what):
    shop = ShopFactory()
    good = tmp_path / "products.csv"
    good.write_text(GOOD)
    bad = tmp_path / "bad.csv"
    bad.write_text("title\nMug\n")
    args = {
        "shop": ["no-such-shop", str(good)],
        "file": [shop.slug, str(tmp_path / "missing.csv")],
        "user": [shop.slug, str(good), "--user", "nobody@example.com"],
        "content": [shop.slug, str(bad)],
    }[what]
    with pytest.raises(CommandError) as exc:
        call_command("import_products", *args, stdout=StringIO(), stderr=StringIO())
    assert exc.value.returncode == 1
    assert not Product.objects.exists()
