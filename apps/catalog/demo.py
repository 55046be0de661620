"""Demo shops and products for ``manage.py seed_demo``: seven small businesses around Singapore.

Idempotent: categories, shops and products are found by slug and created only when missing, so
running the seeder again changes nothing (and keeps what a demo seller edited). Shops are opened and
products created through the services, like a seller would; product images are coloured tiles with
the product's initials, drawn with Pillow and stored through Django's storage.
"""

from __future__ import annotations

import colorsys
import hashlib
import time
from dataclasses import dataclass, field
from datetime import time as clock
from decimal import Decimal
from io import BytesIO

from allauth.account.models import EmailAddress
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.text import slugify
from PIL import Image, ImageDraw, ImageFont

from apps.accounts.demo import DEMO_PASSWORD, seed_demo_accounts
from apps.accounts.models import User
from apps.shops.models import Shop
from apps.shops.permissions import Role
from apps.shops.selectors import dedicated_shop_slug, user_memberships
from apps.shops.services import Hours, shop_open, shop_opening_hours_set, shop_photo_add

from .models import Category, Product, ProductImage
from .services import VariantData, product_create

DEMO_SELLER_EMAIL = "seller@localbazaar.test"
DEMO_SECOND_SELLER_EMAIL = "seller2@localbazaar.test"
IMAGE_SIZE = 600

# (slug, name, children as (slug, name))
CATEGORY_TREE = [
    ("food-drink", "Food & drink", [("bakery", "Bakery"), ("kopi-tea", "Kopi & tea"), ("kueh", "Kueh")]),
    ("fashion", "Fashion", [("batik", "Batik"), ("accessories", "Accessories")]),
    ("home", "Home", [("rattan-crafts", "Rattan & crafts"), ("ceramics", "Ceramics")]),
    ("beauty", "Beauty", [("soaps", "Soaps"), ("fragrance", "Fragrance")]),
]

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
EVERY_DAY = (MON, TUE, WED, THU, FRI, SAT, SUN)


@dataclass(frozen=True)
class DemoProduct:
    title: str
    category: str
    description: str
    # (options, price, compare-at price or None)
    variants: list[tuple[dict[str, str], str, str | None]]
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DemoShop:
    slug: str
    code: str  # SKU prefix
    name: str
    tagline: str
    address_line1: str
    postcode: str
    phone: str
    story: str
    hours: list[tuple[tuple[int, ...], str, str]]  # (days, opens, closes)
    colour_hue: float
    owner_email: str
    owner_name: tuple[str, str]
    products: list[DemoProduct]
    address_line2: str = ""
    offers_pickup: bool = True
    photo_caption: str = ""


def _v(price: str, compare_at: str | None = None, **options: str) -> tuple[dict[str, str], str, str | None]:
    return options, price, compare_at


DEMO_SHOPS: list[DemoShop] = [
    DemoShop(
        slug="seng-poh-bakehouse",
        code="SPB",
        name="Seng Poh Bakehouse",
        tagline="Sourdough and kaya buns, baked before sunrise in Tiong Bahru",
        address_line1="71 Seng Poh Road, #01-37",
        postcode="160071",
        phone="+65 6221 0071",
        story=(
            "## Flour on our hands since 2016\n\n"
            "Sam started baking in the kitchen of a Tiong Bahru walk-up flat, feeding a sourdough starter "
            "named **Ah Boy** that is still alive today. The neighbours kept knocking on the door, so we "
            "opened a shop under the same block.\n\n"
            "Every loaf is fermented for 36 hours. Our kaya is cooked slowly over a double boiler with "
            "pandan from the market across the road, and we sell out most days by two.\n\n"
            "- Baked fresh every morning from 5 am\n- Unsold bread goes to a soup kitchen in Bukit Merah\n"
        ),
        hours=[((TUE, WED, THU, FRI, SAT, SUN), "07:30", "15:00")],
        colour_hue=0.08,
        owner_email=DEMO_SELLER_EMAIL,
        owner_name=("Sam", "Seller"),
        photo_caption="The bakery counter under block 71",
        products=[
            DemoProduct(
                "Country sourdough loaf",
                "bakery",
                "A crackly crust and an open, tangy crumb. Fermented for **36 hours**; keeps for three days "
                "in a paper bag.",
                [_v("9.50", size="800 g"), _v("13.00", size="1.2 kg")],
                ["sourdough", "bread", "vegan"],
            ),
            DemoProduct(
                "Kaya butter croissant",
                "bakery",
                "Laminated with French butter and filled with our pandan kaya.",
                [_v("4.20", size="Single"), _v("15.80", "16.80", size="Box of 4")],
                ["kaya", "pastry"],
            ),
            DemoProduct(
                "Pandan chiffon cake",
                "bakery",
                "Light as a cloud, coloured only with juice pressed from fresh pandan leaves.",
                [_v("28.00", "32.00", size="Whole (20 cm)"), _v("5.50", size="Slice")],
                ["pandan", "cake"],
            ),
            DemoProduct(
                "Gula melaka banana bread",
                "bakery",
                "Overripe bananas and palm sugar from Melaka, with toasted walnuts.",
                [_v("14.00", size="Loaf")],
                ["gula melaka", "cake"],
            ),
            DemoProduct(
                "Black sesame milk buns",
                "bakery",
                "Soft Hokkaido-style milk buns swirled with roasted black sesame paste.",
                [_v("8.50", size="Pack of 6")],
                ["bread"],
            ),
            DemoProduct(
                "Wholemeal Hokkaido loaf",
                "bakery",
                "Our fluffy milk loaf with 40% wholemeal flour: the school-lunch favourite.",
                [_v("7.80", size="Loaf")],
                ["bread"],
            ),
            DemoProduct(
                "Sourdough starter kit",
                "bakery",
                "A jar of Ah Boy, our starter, with a printed guide and a bench scraper.",
                [_v("18.00", "22.00", size="Kit")],
                ["sourdough", "gift"],
            ),
        ],
    ),
    DemoShop(
        slug="rumah-kueh-joo-chiat",
        code="RKJ",
        name="Rumah Kueh",
        tagline="Nyonya kueh from Grandma Lim's recipes, in Joo Chiat since 1978",
        address_line1="312 Joo Chiat Road",
        postcode="427565",
        phone="+65 6344 3120",
        story=(
            "## Three generations of kueh\n\n"
            "Grandma Lim steamed her first *kueh lapis* in a shophouse kitchen on Joo Chiat Road. "
            "Her daughter took over the stove, and now her granddaughter Mei runs the shop, with "
            "the same brass moulds and the same recipes written in a school exercise book.\n\n"
            "> Good kueh cannot be hurried. — Grandma Lim\n\n"
            "We make everything by hand each morning, with no preservatives: eat it the same day."
        ),
        hours=[((MON, TUE, WED, THU, FRI, SAT), "08:00", "18:00"), ((SUN,), "08:00", "13:00")],
        colour_hue=0.92,
        owner_email="mei@rumahkueh.localbazaar.test",
        owner_name=("Mei", "Lim"),
        photo_caption="Trays of kueh lapis cooling in the shophouse",
        products=[
            DemoProduct(
                "Kueh lapis (rainbow layer cake)",
                "kueh",
                "Nine steamed layers of rice flour and coconut milk, peeled one by one, the way children do.",
                [_v("7.20", size="Box of 6"), _v("13.50", size="Box of 12")],
                ["nyonya", "coconut", "vegan"],
            ),
            DemoProduct(
                "Ondeh-ondeh",
                "kueh",
                "Pandan glutinous rice balls that burst with molten gula melaka, rolled in fresh coconut.",
                [_v("6.00", size="Box of 10")],
                ["nyonya", "pandan", "gula melaka"],
            ),
            DemoProduct(
                "Kueh salat",
                "kueh",
                "Blue pea glutinous rice topped with a silky pandan custard.",
                [_v("8.40", "9.60", size="Box of 6")],
                ["nyonya", "pandan"],
            ),
            DemoProduct(
                "Ang ku kueh",
                "kueh",
                "Red tortoise cakes for birthdays and full-month celebrations.",
                [_v("7.50", filling="Peanut", size="Box of 5"), _v("7.50", filling="Mung bean", size="Box of 5")],
                ["celebration"],
            ),
            DemoProduct(
                "Pineapple tarts",
                "kueh",
                "Buttery open tarts topped with slow-cooked pineapple jam: a Chinese New Year must.",
                [_v("24.00", "28.00", size="Jar of 40")],
                ["chinese new year", "gift"],
            ),
            DemoProduct(
                "Kueh bingka ubi",
                "kueh",
                "Baked tapioca cake with a caramelised top and a chewy centre.",
                [_v("5.80", size="4 pieces")],
                ["nyonya", "vegan"],
            ),
        ],
    ),
    DemoShop(
        slug="canting-and-co",
        code="CAN",
        name="Canting & Co.",
        tagline="Hand-drawn batik from our Haji Lane studio",
        address_line1="47 Haji Lane",
        postcode="189244",
        phone="+65 6291 4747",
        story=(
            "## Wax, dye, repeat\n\n"
            "Siti learnt batik from her aunt in Pekalongan, drawing hot wax with a *canting* — a little "
            "copper pen — one line at a time. A sarong takes up to three weeks.\n\n"
            "Our studio is upstairs in a Haji Lane shophouse: come and watch us work, or join a Saturday "
            "workshop and take home a piece you drew yourself."
        ),
        hours=[(EVERY_DAY, "11:00", "20:00")],
        colour_hue=0.6,
        owner_email=DEMO_SECOND_SELLER_EMAIL,
        owner_name=("Siti", "Rahman"),
        photo_caption="Batik drying on the line above Haji Lane",
        products=[
            DemoProduct(
                "Hand-drawn batik sarong",
                "batik",
                "Cotton primissima, hand-drawn (*batik tulis*) and dyed with natural indigo or soga bark.",
                [_v("120.00", colour="Indigo"), _v("120.00", colour="Soga brown")],
                ["batik tulis", "handmade"],
            ),
            DemoProduct(
                "Batik shirt",
                "batik",
                "A short-sleeved shirt cut from stamped (*cap*) batik; smart enough for a wedding dinner.",
                [_v("89.00", "109.00", size="M"), _v("89.00", "109.00", size="L"), _v("95.00", size="XL")],
                ["menswear"],
            ),
            DemoProduct(
                "Batik silk scarf",
                "batik",
                "Habotai silk, 180 × 50 cm, with a hand-drawn frangipani motif.",
                [_v("65.00", colour="Teal"), _v("65.00", colour="Rose")],
                ["silk", "gift"],
            ),
            DemoProduct(
                "Batik tote bag",
                "accessories",
                "Sturdy canvas lined with offcuts from our sarongs, so no two are the same.",
                [_v("32.00")],
                ["upcycled", "bag"],
            ),
            DemoProduct(
                "Batik scrunchie set",
                "accessories",
                "Three scrunchies in matching batik prints.",
                [_v("18.00", "24.00", set="3 pieces")],
                ["upcycled", "hair"],
            ),
            DemoProduct(
                "Batik workshop for one",
                "batik",
                "A three-hour Saturday workshop in our studio: draw, wax and dye your own handkerchief.",
                [_v("75.00")],
                ["workshop", "gift"],
            ),
        ],
    ),
    DemoShop(
        slug="bussorah-attar-house",
        code="BAH",
        name="Bussorah Attar House",
        tagline="Alcohol-free perfume oils blended in Kampong Glam",
        address_line1="27 Bussorah Street",
        postcode="199451",
        phone="+65 6296 2727",
        story=(
            "## A perfumer's street\n\n"
            "Our family has blended *attar* — perfume oils without alcohol — in Kampong Glam for four "
            "generations, within sight of the Sultan Mosque.\n\n"
            "Tell us what you love and we will blend it for you at the counter, from more than a hundred "
            "oils: oud, rose, jasmine, sandalwood, and local notes such as pandan and kemuning."
        ),
        hours=[
            ((MON, TUE, WED, THU, SAT, SUN), "10:00", "21:00"),
            ((FRI,), "10:00", "12:30"),
            ((FRI,), "14:30", "21:00"),
        ],
        colour_hue=0.78,
        owner_email="farid@bussorah.localbazaar.test",
        owner_name=("Farid", "Alsagoff"),
        photo_caption="Rows of cut-glass perfume bottles at the counter",
        products=[
            DemoProduct(
                "Oud and rose attar",
                "fragrance",
                "Deep Cambodian oud softened with Taif rose. Two drops last all day.",
                [_v("38.00", volume="6 ml"), _v("68.00", volume="12 ml")],
                ["oud", "alcohol-free"],
            ),
            DemoProduct(
                "Jasmine sambac attar",
                "fragrance",
                "Night-blooming jasmine, bright and green.",
                [_v("32.00", volume="6 ml")],
                ["jasmine", "alcohol-free"],
            ),
            DemoProduct(
                "Pandan leaf perfume oil",
                "fragrance",
                "Our house blend: pandan, vetiver and a touch of vanilla. Smells like a kitchen in Katong.",
                [_v("28.00", "35.00", volume="10 ml")],
                ["pandan", "alcohol-free"],
            ),
            DemoProduct(
                "Travel attar set",
                "fragrance",
                "Three 3 ml roll-ons: oud and rose, jasmine, and pandan, in a batik pouch.",
                [_v("48.00", "56.00", set="3 × 3 ml")],
                ["gift", "alcohol-free"],
            ),
            DemoProduct(
                "Goat milk and oud soap",
                "soaps",
                "Cold-process soap with fresh goat milk from Lim Chu Kang and a drop of oud.",
                [_v("12.00", weight="120 g")],
                ["handmade", "soap"],
            ),
            DemoProduct(
                "Sandalwood bakhoor",
                "fragrance",
                "Wood chips soaked in sandalwood oil and honey, to burn on charcoal for a fragrant home.",
                [_v("22.00", weight="45 g")],
                ["home fragrance"],
            ),
        ],
    ),
    DemoShop(
        slug="katong-clay-studio",
        code="KCS",
        name="Katong Clay Studio",
        tagline="Wheel-thrown stoneware, glazed in Peranakan colours",
        address_line1="112 East Coast Road",
        address_line2="#02-05 Katong Square",
        postcode="428802",
        phone="+65 6345 1120",
        story=(
            "## Made on the wheel in Katong\n\n"
            "Aisha and Wei Jie met at a pottery class and never left the studio. Our glazes borrow the "
            "colours of the Peranakan shophouse tiles around us: celadon, Nyonya pink and a deep "
            "cobalt.\n\n"
            "Everything is food-safe, dishwasher-safe and fired twice in our kiln in Katong."
        ),
        hours=[((WED, THU, FRI, SAT, SUN), "11:00", "19:00")],
        colour_hue=0.45,
        owner_email="aisha@katongclay.localbazaar.test",
        owner_name=("Aisha", "Tan"),
        photo_caption="The wheel and kiln at the back of the studio",
        products=[
            DemoProduct(
                "Peranakan tile coasters",
                "ceramics",
                "Four stoneware coasters hand-painted after the tiles of Koon Seng Road, cork-backed.",
                [_v("36.00", set="4 coasters")],
                ["peranakan", "gift"],
            ),
            DemoProduct(
                "Stoneware kopi cup",
                "ceramics",
                "Holds a proper kopi (180 ml), with a thick rim that keeps it hot.",
                [_v("24.00", colour="Celadon"), _v("24.00", colour="Nyonya pink"), _v("26.00", colour="Cobalt")],
                ["kopi", "tableware"],
            ),
            DemoProduct(
                "Rice bowl",
                "ceramics",
                "A generous bowl for rice, noodles or laksa.",
                [_v("18.00", set="Single"), _v("64.00", "72.00", set="Set of 4")],
                ["tableware"],
            ),
            DemoProduct(
                "Serving plate",
                "ceramics",
                "A 26 cm plate in speckled white, made for sharing.",
                [_v("48.00")],
                ["tableware"],
            ),
            DemoProduct(
                "Bud vase",
                "ceramics",
                "For a single orchid stem or a sprig of jasmine.",
                [_v("28.00", "34.00", colour="Celadon")],
                ["home decor"],
            ),
            DemoProduct(
                "Small kamcheng jar",
                "ceramics",
                "Our take on the lidded Peranakan kamcheng, 12 cm tall.",
                [_v("88.00")],
                ["peranakan", "home decor"],
            ),
        ],
    ),
    DemoShop(
        slug="besar-kopi-roasters",
        code="BKR",
        name="Besar Kopi Roasters",
        tagline="Nanyang kopi, roasted with butter and sugar the old way",
        address_line1="223 Jalan Besar",
        postcode="208905",
        phone="+65 6293 2230",
        story=(
            "## The smell of Jalan Besar at dawn\n\n"
            "Uncle Tan has roasted kopi beans in a wok-shaped drum since 1985. The beans are roasted with "
            "margarine and sugar until they are glossy and black: that is what gives *kopi* its caramel "
            "body.\n\n"
            "We roast twice a week and grind to order. Bring your own tin and we take 50 cents off."
        ),
        hours=[((MON, TUE, WED, THU, FRI), "07:00", "17:00"), ((SAT, SUN), "08:00", "14:00")],
        colour_hue=0.3,
        owner_email="tan@besarkopi.localbazaar.test",
        owner_name=("Ah Seng", "Tan"),
        photo_caption="The roasting drum, glossy with fresh beans",
        products=[
            DemoProduct(
                "Kopi O blend, ground",
                "kopi-tea",
                "Robusta and liberica roasted with margarine and sugar, ground for a kopi sock.",
                [_v("9.80", weight="250 g"), _v("18.50", weight="500 g"), _v("34.00", "38.00", weight="1 kg")],
                ["kopi", "nanyang"],
            ),
            DemoProduct(
                "Robusta whole beans",
                "kopi-tea",
                "Our single-origin robusta from Lampung, roasted plain for home espresso.",
                [_v("16.00", weight="500 g")],
                ["kopi", "beans"],
            ),
            DemoProduct(
                "Teh tarik blend",
                "kopi-tea",
                "Strong BOH and Ceylon dust, ready to pull with condensed milk.",
                [_v("8.50", weight="200 g")],
                ["teh", "tea"],
            ),
            DemoProduct(
                "Kopi drip bags",
                "kopi-tea",
                "Ten single-serve drip bags for the office; just add hot water.",
                [_v("12.00", pack="10 bags")],
                ["kopi", "office"],
            ),
            DemoProduct(
                "Kopi sock brewing set",
                "kopi-tea",
                "A cotton kopi sock, a stainless steel pot and 250 g of our Kopi O blend.",
                [_v("38.00", "45.00", set="Set")],
                ["kopi", "gift"],
            ),
        ],
    ),
    DemoShop(
        slug="sembawang-rattan-works",
        code="SRW",
        name="Sembawang Rattan Works",
        tagline="Rattan and bamboo, woven by hand up north",
        address_line1="355 Sembawang Crescent, #01-112",
        postcode="750355",
        phone="+65 6755 3550",
        offers_pickup=False,
        story=(
            "## One of the last rattan weavers\n\n"
            "Mr Ismail learnt to weave rattan as an apprentice in a Lavender Street workshop in the 1970s. "
            "Today he and his son weave baskets, trays and lampshades in a void deck workshop in "
            "Sembawang.\n\n"
            "We deliver across the island; we have no shop counter, so pickup is not possible."
        ),
        hours=[((TUE, WED, THU, FRI, SAT), "10:00", "18:00")],
        colour_hue=0.14,
        owner_email="ismail@rattanworks.localbazaar.test",
        owner_name=("Ismail", "Osman"),
        photo_caption="Rattan canes soaking before weaving",
        products=[
            DemoProduct(
                "Rattan market basket",
                "rattan-crafts",
                "The basket your grandmother took to the wet market, with a sturdy double handle.",
                [_v("45.00", size="M"), _v("58.00", size="L")],
                ["rattan", "handmade"],
            ),
            DemoProduct(
                "Rattan pendant lampshade",
                "rattan-crafts",
                "A 40 cm open-weave shade that throws patterned light on the ceiling.",
                [_v("120.00", "150.00", size="40 cm")],
                ["rattan", "lighting"],
            ),
            DemoProduct(
                "Woven rattan tray",
                "rattan-crafts",
                "An oval serving tray with handles, 45 × 30 cm.",
                [_v("38.00")],
                ["rattan", "tableware"],
            ),
            DemoProduct(
                "Rattan hand fan",
                "rattan-crafts",
                "A small woven fan for hawker centre afternoons.",
                [_v("12.00")],
                ["rattan"],
            ),
            DemoProduct(
                "Bamboo steamer set",
                "rattan-crafts",
                "Two tiers and a lid, 25 cm, for dim sum and kueh at home.",
                [_v("28.00", "32.00", size="25 cm")],
                ["bamboo", "kitchen"],
            ),
        ],
    ),
]


# --- images ------------------------------------------------------------------------------------


def _initials(text: str) -> str:
    words = [w for w in text.replace("-", " ").split() if w[:1].isalnum()]
    return "".join(w[0] for w in words[:2]).upper() or "?"


def _tile_colour(hue: float, seed: str) -> tuple[int, int, int]:
    """A colour near the shop's hue, varied per product so tiles in one shop are told apart."""
    wobble = (int(hashlib.sha256(seed.encode()).hexdigest()[:4], 16) / 0xFFFF - 0.5) * 0.12
    r, g, b = colorsys.hls_to_rgb((hue + wobble) % 1.0, 0.42, 0.55)
    return round(r * 255), round(g * 255), round(b * 255)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: a small bitmap font is still legible
        return ImageFont.load_default()


def _tile_jpeg(*, text: str, colour: tuple[int, int, int], size: tuple[int, int], font_size: int) -> bytes:
    picture = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(picture)
    inset = min(size) // 12
    draw.rectangle((inset, inset, size[0] - inset, size[1] - inset), outline=(255, 255, 255), width=4)
    draw.text((size[0] / 2, size[1] / 2), text, fill=(255, 255, 255), font=_font(font_size), anchor="mm")
    out = BytesIO()
    picture.save(out, "JPEG", quality=85)
    return out.getvalue()


def _thumbnail_builder():
    try:
        from .images import product_image_thumbnail_build
    except ImportError:
        return None
    return product_image_thumbnail_build


def _product_image_add(*, product: Product, hue: float) -> ProductImage:
    data = _tile_jpeg(
        text=_initials(product.title),
        colour=_tile_colour(hue, product.title),
        size=(IMAGE_SIZE, IMAGE_SIZE),
        font_size=IMAGE_SIZE // 3,
    )
    image = ProductImage(product=product, position=0, alt_text="")
    image.image.save(f"demo-{product.shop.slug}-{product.slug}.jpg", ContentFile(data), save=False)
    image.save()
    return image


# --- seeding -----------------------------------------------------------------------------------


def _categories() -> tuple[dict[str, Category], int]:
    by_slug: dict[str, Category] = {}
    created = 0
    for position, (slug, name, children) in enumerate(CATEGORY_TREE):
        parent, new = Category.objects.get_or_create(slug=slug, defaults={"name": name, "position": position})
        by_slug[slug], created = parent, created + new
        for child_position, (child_slug, child_name) in enumerate(children):
            child, new = Category.objects.get_or_create(
                slug=child_slug, defaults={"name": child_name, "parent": parent, "position": child_position}
            )
            by_slug[child_slug], created = child, created + new
    return by_slug, created


def _user(email: str, first: str, last: str, *, can_log_in: bool) -> User:
    user, created = User.objects.get_or_create(email=email, defaults={"first_name": first, "last_name": last})
    if created:
        if can_log_in:
            user.set_password(DEMO_PASSWORD)
        else:
            user.set_unusable_password()
        user.save(update_fields=["password"])
    EmailAddress.objects.get_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
    return user


def _hours(spec: list[tuple[tuple[int, ...], str, str]]) -> list[Hours]:
    def parse(value: str) -> clock:
        hour, minute = value.split(":")
        return clock(int(hour), int(minute))

    return [
        Hours(weekday=day, opens=parse(opens), closes=parse(closes)) for days, opens, closes in spec for day in days
    ]


def _shop(demo: DemoShop) -> tuple[Shop, bool]:
    shop = Shop.objects.filter(slug=demo.slug).first()
    if shop is not None:
        return shop, False
    if demo.owner_email == DEMO_SELLER_EMAIL and not User.objects.filter(email=DEMO_SELLER_EMAIL).exists():
        seed_demo_accounts()  # the accounts seeder normally runs first (order 10)
    owner = _user(
        demo.owner_email,
        *demo.owner_name,
        can_log_in=demo.owner_email in (DEMO_SELLER_EMAIL, DEMO_SECOND_SELLER_EMAIL),
    )
    shop = shop_open(
        owner=owner,
        name=demo.name,
        slug=demo.slug,
        address_line1=demo.address_line1,
        address_line2=demo.address_line2,
        postcode=demo.postcode,
        tagline=demo.tagline,
        story=demo.story,
        phone=demo.phone,
        email=f"hello@{demo.slug}.localbazaar.test",
        offers_pickup=demo.offers_pickup,
    )
    shop_opening_hours_set(shop=shop, hours=_hours(demo.hours))
    banner = _tile_jpeg(text=demo.name, colour=_tile_colour(demo.colour_hue, demo.slug), size=(900, 600), font_size=64)
    shop_photo_add(shop=shop, image=ContentFile(banner, name=f"demo-{demo.slug}.jpg"), caption=demo.photo_caption)
    return shop, True


def _product(*, shop: Shop, demo: DemoShop, index: int, item: DemoProduct, categories: dict[str, Category]):
    if Product.objects.filter(shop=shop, slug=slugify(item.title)[:170]).exists():
        return None
    variants = [
        VariantData(
            sku=f"{demo.code}-{index:02d}{'ABCDEFGH'[position]}",
            price=Decimal(price),
            compare_at_price=Decimal(compare_at) if compare_at else None,
            options=options,
        )
        for position, (options, price, compare_at) in enumerate(item.variants)
    ]
    return product_create(
        shop=shop,
        title=item.title,
        description=item.description,
        category=categories[item.category],
        status=Product.Status.ACTIVE,
        variants=variants,
        tags=item.tags,
    )


@transaction.atomic
def seed_demo_catalog() -> list[str]:
    """Create the demo category tree, shops and products that are missing; return summary lines."""
    started = time.monotonic()
    categories, new_categories = _categories()
    if dedicated_shop_slug():
        return [f"Catalog: {len(categories)} categories ({new_categories} new); dedicated site, no demo shops."]
    shops: dict[str, Shop] = {}
    new_shops = 0
    for demo in DEMO_SHOPS:
        shops[demo.slug], created = _shop(demo)
        new_shops += created
    # Round-robin over the shops, so the newest products on the home page come from several shops.
    queue = [(demo, index, item) for demo in DEMO_SHOPS for index, item in enumerate(demo.products, start=1)]
    queue.sort(key=lambda entry: (entry[1], DEMO_SHOPS.index(entry[0])))
    new_products: list[tuple[Product, DemoShop]] = []
    for demo, index, item in queue:
        product = _product(shop=shops[demo.slug], demo=demo, index=index, item=item, categories=categories)
        if product is not None:
            new_products.append((product, demo))
    build_thumbnail = _thumbnail_builder()
    for product, demo in new_products:
        image = _product_image_add(product=product, hue=demo.colour_hue)
        if build_thumbnail is not None:
            build_thumbnail(image_id=image.pk)
    total_products = Product.objects.filter(shop__slug__in=[d.slug for d in DEMO_SHOPS]).count()
    elapsed = time.monotonic() - started
    lines = [
        f"Catalog: {len(categories)} categories ({new_categories} new), {len(DEMO_SHOPS)} shops ({new_shops} new), "
        f"{total_products} products ({len(new_products)} new) in {elapsed:.1f}s.",
    ]
    for email in (DEMO_SELLER_EMAIL, DEMO_SECOND_SELLER_EMAIL):
        user = User.objects.filter(email=email).first()
        owned = [m.shop.name for m in user_memberships(user=user) if m.role == Role.OWNER] if user else []
        if owned:
            lines.append(f"  {email:<26} password: {DEMO_PASSWORD}  owns {', '.join(owned)} (seller portal: /sell/)")
    return lines
