"""The seller journey in a real browser, and a buyer finding what the seller put online.

A verified user signs in, opens a shop with a Singapore postcode only, is sent to set up MFA (shop
owners must use it), invites a packer, adds a product by form (with a photo) and two more from a
CSV file (with one bad row, reported by line and column). Then an anonymous buyer sets a postcode,
searches "pandan" and finds the seller's products with the distance to the shop.

Mail and Celery tasks (invitation email, thumbnails, the CSV import) run eagerly after commit in the
live server's thread, in this process: ``django.core.mail.outbox`` holds the mail, and pages show
finished work right after the redirect.
"""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path

import pytest
from django.core import mail
from django_otp.oath import TOTP
from PIL import Image
from playwright.sync_api import Page, expect

from apps.accounts.tests.factories import UserFactory
from apps.catalog.models import ImportJob, Product, ProductImage
from apps.core.geo import haversine_km, sg_postal_district
from apps.shops.models import Invitation, Membership, Shop
from apps.shops.permissions import Role

from .conftest import ARTIFACTS_DIR, DEFAULT_TIMEOUT_MS

SELLER_EMAIL = "mei.ling@example.com"
SELLER_PASSWORD = "Kueh-lapis-layers-2718"
SHOP_NAME = "Joo Chiat Kueh House"
SHOP_SLUG = "joo-chiat-kueh"
SHOP_POSTCODE = "428795"  # Joo Chiat: postal district 15
BUYER_POSTCODE = "168898"  # Tiong Bahru: postal district 03, about 10.6 km west
STAFF_EMAIL = "packer@example.com"

FORM_PRODUCT = "Pandan chiffon cake"
FORM_SKU = "PCC-WHOLE"
FORM_PRICE = "12.50"
PHOTO_ALT = "Pandan chiffon cake, whole, on a plate"

CSV_FILE_NAME = "kueh.csv"
# One row per variant (IMPORT_FORMAT.md); the header is line 1. Two good products (one with two
# variants), and on line 5 a third product whose price is not a number: it is reported, not imported.
CSV_TEXT = """\
product_ref,title,description,category,tags,status,sku,options,price,compare_at_price,weight_grams
pandan-kaya,Pandan kaya jar,Small-batch kaya with pandan from our garden.,,kaya|pandan,active,PK-250,size=250 g,8.90,,300
pandan-kaya,,,,,,PK-500,size=500 g,15.90,17.90,560
ondeh-ondeh,Ondeh-ondeh box,"Gula melaka inside, coconut outside.",,kueh,active,OO-6,pieces=6,7.50,,200
kueh-salat,Kueh salat,Glutinous rice with pandan custard.,,kueh,active,KS-1,,abc,,250
"""
CSV_BAD_LINE = "5"
CSV_BAD_COLUMN = "price"

TOTP_STEP = 30  # django-otp's TOTPDevice defaults: 30-second steps, 6 digits
TOTP_DIGITS = 6


# --- Fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def buyer_page(browser, live_server, request):
    """A second, anonymous browser (its own cookies), saved to e2e/artifacts/ when the test fails."""
    context = browser.new_context(base_url=live_server.url, locale="en-US", timezone_id="Asia/Singapore")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    buyer = context.new_page()
    yield buyer
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and buyer.url != "about:blank":  # only if the buyer got that far
        ARTIFACTS_DIR.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid) + "_buyer"
        try:
            buyer.screenshot(path=str(ARTIFACTS_DIR / f"{name}.png"), full_page=True)
            (ARTIFACTS_DIR / f"{name}.html").write_text(buyer.content(), encoding="utf-8")
        except Exception as exc:  # a crashed page must not hide the test's own failure
            print(f"e2e: could not save the buyer's failure artifacts: {exc}")
        else:
            print(f"e2e: buyer failure screenshot and HTML saved to {ARTIFACTS_DIR / name}.{{png,html}}")
    context.close()


@pytest.fixture
def product_photo(tmp_path) -> Path:
    """A small, real PNG (pandan green) for the upload."""
    path = tmp_path / "pandan-chiffon.png"
    Image.new("RGB", (640, 480), (86, 160, 60)).save(path, format="PNG")
    return path


@pytest.fixture
def products_csv(tmp_path) -> Path:
    path = tmp_path / CSV_FILE_NAME
    path.write_text(CSV_TEXT, encoding="utf-8")
    return path


# --- Helpers -------------------------------------------------------------------------------------


def totp_code(secret: str) -> str:
    """The code an authenticator app shows now for the base32 ``secret``."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    totp = TOTP(key, step=TOTP_STEP, digits=TOTP_DIGITS)
    totp.time = time.time()
    return f"{totp.token():0{TOTP_DIGITS}d}"


def wait_for_mail(to: str, *, timeout: float = 10.0) -> mail.EmailMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in getattr(mail, "outbox", []):
            if to in message.to:
                return message
        time.sleep(0.1)
    subjects = [(m.to, m.subject) for m in getattr(mail, "outbox", [])]
    raise AssertionError(f"no email to {to} within {timeout}s; outbox: {subjects}")


def form_with_button(page: Page, button: str):
    """The form that holds the submit button named ``button`` (pages have several forms)."""
    return page.locator("main form").filter(has=page.get_by_role("button", name=button, exact=True))


def label(text: str) -> re.Pattern:
    """Django's default form rendering ends labels with a colon: match ``Text`` and ``Text:``."""
    return re.compile(rf"^{re.escape(text)}:?$")


def seller_nav(page: Page, link: str) -> None:
    """Go to a seller-portal page by clicking its link in the portal's menu, as a seller does."""
    page.get_by_role("navigation", name="Seller portal").get_by_role("link", name=link, exact=True).click()


def expect_message(page: Page, text: str) -> None:
    expect(page.locator("main .messages")).to_contain_text(text)


class Timer:
    """Wall-clock time of each step, printed at the end (visible with ``-s`` or on failure)."""

    def __init__(self) -> None:
        self.start = self.last = time.monotonic()
        self.steps: list[tuple[str, float]] = []

    def lap(self, step: str) -> None:
        now = time.monotonic()
        self.steps.append((step, now - self.last))
        self.last = now

    def report(self) -> str:
        lines = [f"  {step:<28} {seconds:6.2f} s" for step, seconds in self.steps]
        return "\n".join(["seller journey timings:", *lines, f"  {'total':<28} {self.last - self.start:6.2f} s"])


# --- The journey, step by step -------------------------------------------------------------------


def sign_in(page: Page, live_server) -> None:
    page.goto("/accounts/login/")
    form = page.locator("main form")
    form.locator("input[name=login]").fill(SELLER_EMAIL)
    form.locator("input[name=password]").fill(SELLER_PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("details.account-menu")).to_be_visible()


def open_shop_and_set_up_mfa(page: Page, live_server) -> Shop:
    page.goto("/sell/open/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Open your shop")
    form = form_with_button(page, "Open my shop")
    form.get_by_label(label("Name")).fill(SHOP_NAME)
    form.get_by_label(label("Web address")).fill(SHOP_SLUG)
    form.get_by_label(label("Address")).fill("288 Joo Chiat Road")
    form.get_by_label(label("Postcode")).fill(SHOP_POSTCODE)
    # No latitude or longitude: in Singapore the postcode places the shop.
    form.get_by_role("button", name="Open my shop").click()

    # A new owner must use MFA: the dashboard sends them to set it up first, and back afterwards.
    expect(page).to_have_url(re.compile(r"/accounts/mfa/setup/\?next=" + re.escape(f"%2Fsell%2F{SHOP_SLUG}%2F")))
    expect(page.locator("main")).to_contain_text("Set up two-factor authentication to open this page.")
    shop = Shop.objects.get(slug=SHOP_SLUG)
    district = sg_postal_district(SHOP_POSTCODE)
    assert (shop.latitude, shop.longitude) == (district.point.latitude, district.point.longitude)
    assert Membership.objects.filter(shop=shop, user__email=SELLER_EMAIL, role=Role.OWNER).exists()

    expect(page.locator("figure.qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").get_attribute("data-secret")
    assert secret and re.fullmatch(r"[A-Z2-7]+", secret), f"unexpected key {secret!r}"
    setup = page.locator("main form")
    setup.locator("input[name=code]").fill(totp_code(secret))
    setup.get_by_role("button", name="Turn on").click()

    # The backup codes come first; Continue leads on to the dashboard that asked for MFA.
    expect(page).to_have_url(re.compile(r"/accounts/mfa/\?next="))
    expect(page.locator(".backup-codes ul.codes code")).to_have_count(10)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{live_server.url}/sell/{SHOP_SLUG}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_role("navigation", name="Seller portal")).to_contain_text(SHOP_NAME)
    return shop


def invite_packer(page: Page, shop: Shop) -> None:
    seller_nav(page, "Staff")
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff")
    form = form_with_button(page, "Send invitation")
    form.get_by_label(label("Email")).fill(STAFF_EMAIL)
    form.get_by_label(label("Role")).select_option(label="Warehouse staff")
    form.get_by_role("button", name="Send invitation").click()

    expect_message(page, f"Invitation sent to {STAFF_EMAIL}.")
    expect(page.get_by_role("heading", name="Open invitations")).to_be_visible()
    invitation_item = page.locator("main li").filter(has_text=STAFF_EMAIL)
    expect(invitation_item).to_contain_text("Warehouse staff")
    expect(invitation_item.get_by_role("button", name="Withdraw")).to_be_visible()

    invitation = Invitation.objects.get(shop=shop, email=STAFF_EMAIL)
    assert invitation.role == Role.WAREHOUSE_STAFF
    message = wait_for_mail(STAFF_EMAIL)
    assert SHOP_NAME in message.subject, message.subject
    assert "Warehouse staff" in message.body, message.body
    assert re.search(r"https?://[^/\s]+/sell/invitations/[^/\s]+/", message.body), message.body


def add_product_by_form(page: Page, shop: Shop, photo: Path) -> Product:
    seller_nav(page, "Products")
    expect(page.get_by_role("heading", level=1)).to_have_text("Products")
    page.get_by_role("button", name="New product").click()  # a link styled as a button
    expect(page.get_by_role("heading", level=1)).to_have_text("New product")

    form = form_with_button(page, "Create product")
    form.get_by_label("Title", exact=True).fill(FORM_PRODUCT)
    form.get_by_label("Description", exact=True).fill("Light and airy, with **fresh pandan** juice.")
    form.get_by_label("Tags", exact=True).fill("cake, pandan")
    expect(form.get_by_label("Status", exact=True)).to_have_value("draft")  # new products start hidden
    form.get_by_label("SKU, variant 1", exact=True).fill(FORM_SKU)
    form.get_by_label("Price (SGD), variant 1", exact=True).fill(FORM_PRICE)
    form.get_by_label("Weight (g), variant 1", exact=True).fill("450")
    form.get_by_role("button", name="Create product").click()

    expect_message(page, f"“{FORM_PRODUCT}” is saved. Add photos below.")
    expect(page).to_have_url(re.compile(rf"/sell/{SHOP_SLUG}/products/\d+/$"))
    product = Product.objects.get(shop=shop, title=FORM_PRODUCT)
    assert product.status == Product.Status.DRAFT
    assert [(v.sku, str(v.price)) for v in product.variants.all()] == [(FORM_SKU, FORM_PRICE)]

    # A photo: uploaded, thumbnail built (eagerly, after commit), shown in the product's photo list.
    photos = page.get_by_role("region", name="Photos")
    expect(photos).to_contain_text("No photos yet.")
    upload = form_with_button(page, "Upload photos")
    upload.get_by_label("Photos", exact=True).set_input_files(photo)
    upload.get_by_label("Description for screen readers", exact=True).fill(PHOTO_ALT)
    upload.get_by_role("button", name="Upload photos").click()
    expect_message(page, "1 photo added")
    thumbnail = photos.get_by_role("img", name=PHOTO_ALT)
    expect(thumbnail).to_be_visible()
    expect(thumbnail).to_have_attribute("src", re.compile(r"^/media/.+\.webp$"))
    expect(photos).to_contain_text("Photo 1 (main photo)")
    expect(photos).not_to_contain_text("Preparing the thumbnail")
    image = ProductImage.objects.get(product=product)
    assert image.thumbnail_status == ProductImage.ThumbnailStatus.READY, image.thumbnail_status
    assert image.alt_text == PHOTO_ALT

    # Publish: status Active, so buyers see it.
    form = form_with_button(page, "Save changes")
    form.get_by_label("Status", exact=True).select_option("active")
    form.get_by_role("button", name="Save changes").click()
    expect_message(page, f"Changes to “{FORM_PRODUCT}” are saved.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Active")
    product.refresh_from_db()
    assert product.status == Product.Status.ACTIVE

    # The product list shows it with its thumbnail and price.
    seller_nav(page, "Products")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=FORM_PRODUCT, exact=True))
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("12.50")
    expect(row.locator("img")).to_have_attribute("src", re.compile(r"\.webp$"))
    return product


def import_products_from_csv(page: Page, shop: Shop, csv_path: Path) -> None:
    seller_nav(page, "Import from CSV")
    expect(page.get_by_role("heading", level=1)).to_have_text("Import from CSV")
    upload = form_with_button(page, "Upload and import")
    upload.get_by_label(label("CSV file")).set_input_files(csv_path)
    upload.get_by_role("button", name="Upload and import").click()

    expect(page).to_have_url(re.compile(rf"/sell/{SHOP_SLUG}/imports/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Import of {CSV_FILE_NAME}")
    # The job page polls its progress block with htmx while the job runs; wait for the report.
    progress = page.locator("#import-progress")
    expect(progress.get_by_role("status")).to_have_text("Done", timeout=30_000)
    expect(progress.get_by_role("progressbar", name="Import progress")).to_have_attribute("value", "100")

    summary = progress.locator("dl.import-summary")
    for term, value in (
        ("Rows read", "4 / 4"),
        ("Products created", "2"),
        ("Products updated", "0"),
        ("Rows with problems", "1"),
    ):
        expect(summary.locator("dt", has_text=term).locator("xpath=following-sibling::dd[1]")).to_have_text(value)

    # The bad row, by line and column.
    expect(progress.get_by_role("heading", name="Problems")).to_be_visible()
    problems = progress.get_by_role("table")
    expect(problems.get_by_role("row")).to_have_count(2)  # header + one problem
    problem = problems.get_by_role("row").nth(1)
    expect(problem.get_by_role("cell").nth(0)).to_have_text(CSV_BAD_LINE)
    expect(problem.get_by_role("cell").nth(1)).to_have_text(CSV_BAD_COLUMN)
    expect(problem.get_by_role("cell").nth(2)).to_contain_text("“abc” is not a price")

    job = ImportJob.objects.get(shop=shop)
    assert job.status == ImportJob.Status.DONE, job.status
    assert (job.products_created, job.products_updated) == (2, 0)
    assert {(p.slug, p.status) for p in Product.objects.filter(shop=shop, slug__in=["pandan-kaya", "ondeh-ondeh"])} == {
        ("pandan-kaya", Product.Status.ACTIVE),
        ("ondeh-ondeh", Product.Status.ACTIVE),
    }
    assert not Product.objects.filter(shop=shop, title="Kueh salat").exists(), "the bad product was imported"
    kaya = Product.objects.get(shop=shop, slug="pandan-kaya")
    assert sorted(v.sku for v in kaya.variants.all()) == ["PK-250", "PK-500"]

    # The products are in the seller's list: 1 by form + 2 imported.
    progress.get_by_role("link", name="See your products").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Products")
    expect(page.locator("main")).to_contain_text("3 products")
    for title in (FORM_PRODUCT, "Pandan kaya jar", "Ondeh-ondeh box"):
        expect(page.get_by_role("link", name=title, exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Kueh salat")).to_have_count(0)


def buyer_finds_products(buyer: Page, live_server, product: Product) -> None:
    district = sg_postal_district(BUYER_POSTCODE)
    shop_district = sg_postal_district(SHOP_POSTCODE)
    distance = f"{haversine_km(district.point, shop_district.point):.1f} km"

    # Where the buyer is: a postcode on the home page (kept in the session, used by search too).
    buyer.goto("/")
    buyer.get_by_label("Your postcode", exact=True).fill(BUYER_POSTCODE)
    buyer.get_by_role("button", name="Use this postcode").click()
    expect_message(buyer, f"Showing what is near {BUYER_POSTCODE} ({district.name}) first.")

    # Search from the header's search box.
    buyer.get_by_role("searchbox", name="Search products and shops near you").fill("pandan")
    buyer.get_by_role("searchbox", name="Search products and shops near you").press("Enter")
    expect(buyer).to_have_url(re.compile(r"/search/\?q=pandan$"))
    expect(buyer.get_by_role("heading", level=1)).to_have_text("Results for “pandan”")
    expect(buyer.get_by_role("region", name="Your location")).to_contain_text(
        f"Nearest results to {BUYER_POSTCODE} ({district.name}) come first."
    )
    results = buyer.locator("main ul.search-results > li")
    # Both doors feed search: the product made by form and the one imported (its tag and text say pandan).
    expect(results).to_have_count(2)
    for title in (FORM_PRODUCT, "Pandan kaya jar"):
        card = results.filter(has=buyer.get_by_role("link", name=title, exact=True))
        expect(card).to_contain_text(SHOP_NAME)
        expect(card).to_contain_text(distance)
    cake_card = results.filter(has=buyer.get_by_role("link", name=FORM_PRODUCT, exact=True))
    expect(cake_card).to_contain_text("12.50")
    expect(cake_card.get_by_role("img", name=PHOTO_ALT)).to_have_count(1)
    expect(buyer.locator("main")).not_to_contain_text("Ondeh-ondeh box")

    # The product page.
    cake_card.get_by_role("link", name=FORM_PRODUCT, exact=True).click()
    expect(buyer).to_have_url(f"{live_server.url}/shops/{SHOP_SLUG}/{product.slug}/")
    expect(buyer.get_by_role("heading", level=1)).to_have_text(FORM_PRODUCT)
    summary = buyer.locator("main .product-summary")
    expect(summary).to_contain_text(f"by {SHOP_NAME}")
    expect(summary).to_contain_text(f"{distance} away")
    expect(summary.get_by_role("table")).to_contain_text("12.50")
    expect(buyer.get_by_role("region", name="Photos").get_by_role("img", name=PHOTO_ALT)).to_have_count(1)
    expect(buyer.locator("main")).to_contain_text("fresh pandan")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_seller_opens_shop_invites_staff_adds_products_and_buyer_finds_them(
    page: Page, buyer_page: Page, live_server, product_photo: Path, products_csv: Path
):
    timer = Timer()
    UserFactory(email=SELLER_EMAIL, password=SELLER_PASSWORD)  # email verified
    try:
        sign_in(page, live_server)
        timer.lap("sign in")
        shop = open_shop_and_set_up_mfa(page, live_server)
        timer.lap("open shop + MFA setup")
        invite_packer(page, shop)
        timer.lap("invite staff")
        product = add_product_by_form(page, shop, product_photo)
        timer.lap("product by form + photo")
        import_products_from_csv(page, shop, products_csv)
        timer.lap("CSV import")
        buyer_finds_products(buyer_page, live_server, product)
        timer.lap("buyer search + product")
    finally:
        print(timer.report())
