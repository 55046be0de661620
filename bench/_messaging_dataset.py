"""The ``messaging`` benchmark's Django side (not a benchmark itself: its name starts with ``_``).

``bench/messaging.py`` runs this file as a script with the site's environment (production settings,
the benchmark's own database, made afresh for every run):

``prepare``
    One open shop with a manager (a confirmed authenticator: the seller portal needs MFA) and
    ``BENCH_MESSAGING_CONVERSATIONS`` (10,000) conversations from as many buyers, all written with
    ``bulk_create``: each has 1 to 4 messages (buyer first, the shop answering every other one) with
    realistic texts, consistent counters, previews and read times; a quarter are unread by the shop,
    a tenth archived, a fifth about a product, a few assigned to the manager. One more buyer holds a
    conversation of ``BENCH_MESSAGING_THREAD`` (200) messages with the shop, the newest one. Signed-in
    sessions for the manager (with django-otp's device id, as after a real code) and that buyer are
    written directly. Prints ``DATASET {json}`` with the session keys and the pages' paths.
``queries``
    Each page fetched twice in-process (Django's test client, the same sessions); the database
    queries of the second (warm) request are counted. Prints ``QUERIES {json}``.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
SEED = 20261208
SHOP_SLUG = "messaging-bench"
SELLER_EMAIL = "manager@messaging-bench.test"
THREAD_BUYER_EMAIL = "regular@buyers.messaging-bench.test"
PRODUCTS = 40

BUYER_LINES = [
    "Hi! Is the {p} still available in a larger size?",
    "Could I pick my order up on Saturday morning instead?",
    "Do you ship to Jurong West? I'd like two of the {p}.",
    "Thanks so much, it arrived today and it's lovely!",
    "Is the {p} dishwasher safe?",
    "Can you gift-wrap it? It's for my mum's birthday.",
    "What time do you open on public holidays?",
    "I ordered the wrong colour, can I swap it for the blue one?",
    "Hello, do you take custom orders for a wedding (about 80 pieces)?",
    "Is there any nuts in the {p}? My son is allergic.",
    "My parcel says delivered but I can't find it, can you check please?",
    "Will the {p} be restocked before Chinese New Year?",
]
SHOP_LINES = [
    "Hello! Yes, we have it in stock: I've put one aside for you.",
    "Of course, Saturday from 10am is fine. See you then!",
    "We deliver island-wide, same day if you order before 2pm.",
    "Thank you for the kind words, it made our day :)",
    "Yes, it's dishwasher safe, but hand washing keeps the glaze longer.",
    "Happy to gift-wrap it for free, I'll add a little card too.",
    "We're open 11am to 6pm on public holidays.",
    "No problem, bring it back unused and we'll swap it.",
    "We'd love to! Could you tell us your date and budget?",
    "No nuts at all, but it's made in a kitchen that handles peanuts.",
    "Sorry about that! I've asked the courier, they'll call you today.",
    "We expect a new batch next week, I'll message you when it's in.",
]


def _progress(message: str) -> None:
    print(f"  {message}", flush=True)


def _sessions(users, device_ids: dict[int, str]) -> dict[int, str]:
    """One signed-in session per user, written directly: {user id: session key}. A user in
    DEVICE_IDS also passed MFA (django-otp's device id in the session, as after a real code)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string
    from django_otp import DEVICE_ID_SESSION_KEY

    store = SessionStore()
    expire = timezone.now() + timedelta(days=1)
    backend = "django.contrib.auth.backends.ModelBackend"
    keys, rows = {}, []
    for user in users:
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: backend, HASH_SESSION_KEY: user.get_session_auth_hash()}
        if user.pk in device_ids:
            data[DEVICE_ID_SESSION_KEY] = device_ids[user.pk]
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
        keys[user.pk] = key
    Session.objects.bulk_create(rows)
    return keys


def _thread(rng, conversation, products, start, count, *, shop_user, buyer, unread: bool):
    """COUNT messages alternating buyer/shop (the buyer first) from START; sets CONVERSATION's
    counters, previews and read times to match. Returns the unsaved messages."""
    from apps.messaging.models import Message, Side

    messages, at = [], start
    for k in range(count):
        at += timedelta(minutes=rng.randint(2, 600))
        side = Side.BUYER if k % 2 == 0 else Side.SHOP
        product = rng.choice(products).title.lower()
        body = rng.choice(BUYER_LINES if side == Side.BUYER else SHOP_LINES).format(p=product)
        sender = buyer if side == Side.BUYER else shop_user
        messages.append(Message(conversation=conversation, sender=sender, side=side, body=body, created_at=at))
    if unread and messages[-1].side == Side.SHOP:
        at += timedelta(minutes=rng.randint(2, 300))
        body = rng.choice(BUYER_LINES).format(p=rng.choice(products).title.lower())
        messages.append(Message(conversation=conversation, sender=buyer, side=Side.BUYER, body=body, created_at=at))
    last = messages[-1]
    conversation.messages_count = len(messages)
    conversation.last_message_at = last.created_at
    conversation.last_message_preview = last.body[:160]
    conversation.last_buyer_message_at = max((m.created_at for m in messages if m.side == Side.BUYER), default=None)
    conversation.last_shop_message_at = max((m.created_at for m in messages if m.side == Side.SHOP), default=None)
    conversation.buyer_last_read_at = conversation.last_shop_message_at or conversation.last_buyer_message_at
    if unread:
        # The shop read up to the message before the buyer's last one.
        conversation.shop_last_read_at = messages[-2].created_at if len(messages) > 1 else None
    else:
        conversation.shop_last_read_at = last.created_at
    return messages


def prepare() -> dict:
    from django.db import connection, transaction
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from apps.accounts.models import User
    from apps.catalog.models import Product
    from apps.messaging.models import Conversation, Message
    from apps.shops.models import Membership, Shop
    from apps.shops.permissions import Role

    count = int(os.environ.get("BENCH_MESSAGING_CONVERSATIONS", "10000"))
    thread_len = int(os.environ.get("BENCH_MESSAGING_THREAD", "200"))
    rng = random.Random(SEED)
    started = time.monotonic()
    now = timezone.now()
    with transaction.atomic():
        shop = Shop.objects.create(
            name="Messaging Bench Pottery",
            slug=SHOP_SLUG,
            email="hello@messaging-bench.test",
            address_line1="12 Bench Road",
            postcode="168898",
            latitude=Decimal("1.285000"),
            longitude=Decimal("103.827000"),
            currency="SGD",
            offers_pickup=True,
            status=Shop.Status.ACTIVE,
        )
        manager = User.objects.create(email=SELLER_EMAIL, password="!bench-unusable", first_name="Mei")  # noqa: S106
        Membership.objects.create(shop=shop, user=manager, role=Role.MANAGER)
        device = TOTPDevice.objects.create(user=manager, name="Authenticator app", confirmed=True)
        products = Product.objects.bulk_create(
            Product(
                shop=shop,
                title=title,
                slug=f"bench-{k}",
                description="A product of the messaging benchmark.",
                status=Product.Status.ACTIVE,
                published_at=now,
            )
            for k, title in enumerate(
                f"{a} {b}"
                for a in ("Speckled", "Celadon", "Hand-thrown", "Indigo", "Rattan")
                for b in ("mug", "bowl", "vase", "plate", "teapot", "planter", "jug", "tumbler")
            )
        )[:PRODUCTS]
        buyers = User.objects.bulk_create(
            User(email=f"buyer{n:05d}@buyers.messaging-bench.test", password="!bench-unusable", first_name=f"Buyer {n}")  # noqa: S106
            for n in range(1, count + 1)
        )
        conversations, messages = [], []
        for n, buyer in enumerate(buyers):
            product = rng.choice(products) if n % 5 == 0 else None
            conversation = Conversation(
                shop=shop,
                buyer=buyer,
                subject=Conversation.Subject.PRODUCT if product else Conversation.Subject.SHOP,
                subject_key=f"product:{product.pk}" if product else "shop",
                product=product,
                archived_by_shop=n % 10 == 3,
                assigned_to=manager if n % 17 == 0 else None,
                last_message_at=now,
            )
            start = now - timedelta(days=rng.uniform(1, 365))
            messages += _thread(
                rng, conversation, products, start, rng.randint(1, 4), shop_user=manager, buyer=buyer,
                unread=n % 4 == 0,
            )  # fmt: skip
            conversations.append(conversation)
        Conversation.objects.bulk_create(conversations, batch_size=2000)
        for message in messages:
            message.conversation_id = message.conversation.pk
        Message.objects.bulk_create(messages, batch_size=5000)

        regular = User.objects.create(email=THREAD_BUYER_EMAIL, password="!bench-unusable", first_name="Aisha")  # noqa: S106
        thread = Conversation(shop=shop, buyer=regular, subject_key="shop", last_message_at=now)
        thread_messages = _thread(
            rng, thread, products, now - timedelta(days=90), thread_len, shop_user=manager, buyer=regular, unread=False
        )
        # The newest conversation of the inbox, its last message a few minutes ago.
        shift = now - timedelta(minutes=5) - thread_messages[-1].created_at
        for message in thread_messages:
            message.created_at += shift
        _thread_times_shift(thread, shift)
        thread.save()
        for message in thread_messages:
            message.conversation_id = thread.pk
        Message.objects.bulk_create(thread_messages)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    sessions = _sessions([manager, regular], {manager.pk: device.persistent_id})
    _progress(
        f"1 shop, {len(conversations):,} conversations with {len(messages):,} messages, one of "
        f"{len(thread_messages)} messages; 2 sessions ({time.monotonic() - started:.0f} s)"
    )
    return {
        "shop": shop.slug,
        "conversations": len(conversations) + 1,
        "messages": len(messages) + len(thread_messages),
        "thread_messages": len(thread_messages),
        "seller_cookie": f"sessionid={sessions[manager.pk]}",
        "buyer_cookie": f"sessionid={sessions[regular.pk]}",
        **_paths(shop, thread),
        "build_s": round(time.monotonic() - started, 1),
    }


def _thread_times_shift(conversation, shift: timedelta) -> None:
    for field in (
        "last_message_at",
        "last_buyer_message_at",
        "last_shop_message_at",
        "buyer_last_read_at",
        "shop_last_read_at",
    ):
        value = getattr(conversation, field)
        if value is not None:
            setattr(conversation, field, value + shift)


def _paths(shop, conversation) -> dict[str, str]:
    """The seller's inbox, the seller's conversation page and the buyer's conversation page, by
    URL name (overridable with BENCH_MESSAGING_*_URL_NAME)."""
    inbox = os.environ.get("BENCH_MESSAGING_INBOX_URL_NAME", "messaging_seller:inbox")
    seller_conv = os.environ.get("BENCH_MESSAGING_SELLER_CONVERSATION_URL_NAME", "messaging_seller:conversation")
    buyer_conv = os.environ.get("BENCH_MESSAGING_BUYER_CONVERSATION_URL_NAME", "messaging:thread")
    return {
        "inbox_path": _reverse(inbox, {"shop_slug": shop.slug}),
        "conversation_path": _reverse(seller_conv, {"shop_slug": shop.slug}, conversation.pk),
        "buyer_conversation_path": _reverse(buyer_conv, {}, conversation.pk),
    }


def _reverse(name: str, kwargs: dict, pk: int | None = None) -> str:
    """reverse() whatever the conversation's id is called in the URL (pk, conversation_id…)."""
    from django.urls import NoReverseMatch, reverse

    if pk is None:
        return reverse(name, kwargs=kwargs)
    for key in ("pk", "conversation_id", "conversation_pk", "id"):
        try:
            return reverse(name, kwargs={**kwargs, key: pk})
        except NoReverseMatch:
            continue
    raise SystemExit(f"cannot reverse {name} with {kwargs} and the conversation's id")


def queries(dataset_json: str) -> dict:
    """Database queries of one warm request to each page, in-process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    dataset = json.loads(Path(dataset_json).read_text())
    out = {}
    for key, path, cookie in (
        ("inbox", dataset["inbox_path"], dataset["seller_cookie"]),
        ("conversation", dataset["conversation_path"], dataset["seller_cookie"]),
        ("buyer_conversation", dataset["buyer_conversation_path"], dataset["buyer_cookie"]),
    ):
        client = Client(HTTP_HOST="127.0.0.1")
        name, _, value = cookie.partition("=")
        client.cookies[name] = value
        first = client.get(path)
        if first.status_code != 200:
            raise SystemExit(f"GET {path} answered {first.status_code}, not 200")
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"GET {path} answered {response.status_code}, not 200 (second time)")
        out[f"{key}_queries"] = len(captured.captured_queries)
        out[f"{key}_bytes"] = len(response.content)
    return out


def main() -> None:
    sys.path.insert(0, str(PROJECT_DIR))
    os.chdir(PROJECT_DIR)
    import django

    django.setup()
    command, *args = sys.argv[1:]
    if command == "prepare":
        print("DATASET " + json.dumps(prepare()), flush=True)
    elif command == "queries":
        print("QUERIES " + json.dumps(queries(*args)), flush=True)
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
