"""Seller portal, loyalty boosts: the services that create, change and stop boosts; the list with
what each boost funded; the form's validation; who may use the pages; another shop's boosts 404."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.catalog.models import Product
from apps.catalog.tests.factories import ProductFactory
from apps.loyalty.errors import LoyaltyError
from apps.loyalty.models import Boost
from apps.loyalty.services import EarningLine, boost_create, boost_stop, boost_update, earning_reduce
from apps.shops.tests.factories import ShopFactory

from .factories import buyer, earn

pytestmark = pytest.mark.django_db


def url(name, shop, *args):
    return reverse(f"loyalty_seller:{name}", args=[shop.slug, *args])


@pytest.fixture
def owner(client, seller):
    return seller(client, role="owner")


@pytest.fixture
def shop(owner):
    return owner.shop


def make_boost(shop, product=None, rate="0.0500", **kwargs) -> Boost:
    return boost_create(
        shop=shop,
        product=product or ProductFactory(shop=shop),
        extra_rate=Decimal(rate),
        starts_at=kwargs.pop("starts_at", timezone.now()),
        **kwargs,
    )


def boosted_order(boost, paid="100.00"):
    """A buyer's order of the boosted product, paid ``paid``: the boost adds its rate of it."""
    return earn(buyer(), paid, shop=boost.shop, lines=[EarningLine(boost.product_id, Decimal(paid))])


def form_data(product, **overrides) -> dict:
    data = {"product": str(product.pk), "rate_percent": "5", "starts_at": "", "ends_at": ""}
    return {**data, **overrides}


def _local(dt) -> str:
    return timezone.localtime(dt, timezone=timezone.get_fixed_timezone(480)).strftime("%Y-%m-%dT%H:%M")


# --- services ---------------------------------------------------------------------------------------


def test_boost_create_moves_a_past_start_to_now_and_records_who():
    """A boost never reaches back to orders placed before it was made."""
    shop = ShopFactory()
    product = ProductFactory(shop=shop)
    before = timezone.now()
    boost = boost_create(
        shop=shop, product=product, extra_rate=Decimal("0.0500"), starts_at=before - timedelta(days=3), actor=None
    )
    assert boost.starts_at >= before and boost.active and boost.ends_at is None


@pytest.mark.parametrize(
    ("rate", "ends_in", "code"),
    [
        ("0.0049", None, "boost-rate"),
        ("0.2001", None, "boost-rate"),
        ("0.00505", None, "boost-rate"),
        ("0.0500", timedelta(days=-1), "boost-window"),
    ],
)
def test_boost_create_refuses_rates_out_of_range_and_ends_in_the_past(rate, ends_in, code):
    shop = ShopFactory()
    ends_at = timezone.now() + ends_in if ends_in else None
    with pytest.raises(LoyaltyError) as exc:
        boost_create(
            shop=shop,
            product=ProductFactory(shop=shop),
            extra_rate=Decimal(rate),
            starts_at=timezone.now(),
            ends_at=ends_at,
        )
    assert exc.value.code == code
    assert not Boost.objects.exists()


def test_boost_create_refuses_another_shops_product():
    shop = ShopFactory()
    with pytest.raises(LoyaltyError) as exc:
        make_boost(shop, product=ProductFactory())
    assert exc.value.code == "boost-product"
    assert not Boost.objects.exists()


def test_boost_update_refuses_an_end_before_the_start_and_a_new_product_once_it_boosted():
    boost = make_boost(ShopFactory())
    later = timezone.now() + timedelta(days=2)
    with pytest.raises(LoyaltyError, match="end after it starts"):
        boost_update(
            boost=boost,
            product=boost.product,
            extra_rate=boost.extra_rate,
            starts_at=later,
            ends_at=later - timedelta(hours=1),
        )
    boosted_order(boost)
    with pytest.raises(LoyaltyError) as exc:
        boost_update(
            boost=boost,
            product=ProductFactory(shop=boost.shop),
            extra_rate=boost.extra_rate,
            starts_at=boost.starts_at,
            ends_at=None,
        )
    assert exc.value.code == "boost-product-locked"
    updated = boost_update(
        boost=boost, product=boost.product, extra_rate=Decimal("0.1000"), starts_at=boost.starts_at, ends_at=later
    )
    assert (updated.extra_rate, updated.ends_at) == (Decimal("0.1000"), later)


def test_a_stopped_boost_adds_nothing_to_new_orders():
    boost = make_boost(ShopFactory())
    assert boosted_order(boost).boost_points == 500  # 5% of 100.00, a point a cent
    boost_stop(boost=boost)
    boost_stop(boost=boost)  # again: nothing changes
    assert boosted_order(boost).boost_points == 0
    assert Boost.objects.get(pk=boost.pk).active is False


# --- the list -------------------------------------------------------------------------------------


def test_list_shows_each_boost_with_orders_points_and_cost_in_bounded_queries(
    client, shop, django_assert_max_num_queries
):
    """Product, rate, window, status, orders boosted, points funded (refunds taken back) and their
    cost in the shop's money; the query count does not grow with the number of boosts."""
    boosts = [make_boost(shop, rate="0.0250") for _ in range(6)]
    for boost in boosts[:3]:
        boosted_order(boost, "100.00")
    half = boosted_order(boosts[0], "100.00")
    earning_reduce(reference=half.reference, refunded=Decimal("50.00"))
    boost_stop(boost=boosts[5])
    with django_assert_max_num_queries(5):
        response = client.get(url("list", shop))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("data-boost=") == 6
    assert body.count('data-state="running"') == 5 and body.count('data-state="off"') == 1
    first = response.context["boosts"][-1]  # the oldest is listed last
    assert first.pk == boosts[0].pk
    assert (first.orders, first.awarded) == (2, 250 + 125)  # 2.5% of 100.00, then of the 50.00 kept
    assert first.cost.amount == Decimal("3.75")  # a point is one cent
    assert "2.50%" in body
    assert f'href="{url("list", shop)}"' in body  # the seller nav links here


def test_the_nav_link_shows_only_to_roles_that_fund_boosts(client, seller):
    member = seller(client, role="inventory_manager")
    body = client.get(reverse("shops:dashboard", args=[member.shop.slug])).content.decode()
    assert url("list", member.shop) not in body
    assert client.get(url("list", member.shop)).status_code == 403


@pytest.mark.parametrize("role", ["manager", "owner"])
def test_owners_and_managers_may_fund_boosts(client, seller, role):
    member = seller(client, role=role)
    assert client.get(url("list", member.shop)).status_code == 200


# --- create and edit --------------------------------------------------------------------------------


def test_owner_creates_a_boost_from_the_percent_in_the_shops_time_zone(client, shop, owner):
    product = ProductFactory(shop=shop, title="Batik scarf")
    start = timezone.now() + timedelta(days=1)
    end = start + timedelta(days=7)
    response = client.post(
        url("boost-add", shop),
        form_data(product, rate_percent="7.25", starts_at=_local(start), ends_at=_local(end)),
    )
    assert response.status_code == 302
    boost = Boost.objects.get(shop=shop)
    assert boost.product == product and boost.extra_rate == Decimal("0.0725")
    assert boost.starts_at == start.replace(second=0, microsecond=0)  # typed in Singapore time (UTC+8)
    assert boost.created_by == owner.user and boost.active


def test_the_product_list_offers_only_the_shops_own_products(client, shop):
    mine = ProductFactory(shop=shop)
    archived = ProductFactory(shop=shop, status=Product.Status.ARCHIVED)
    theirs = ProductFactory()
    form = client.get(url("boost-add", shop)).context["form"]
    assert list(form.fields["product"].queryset) == [mine]
    response = client.post(url("boost-add", shop), form_data(theirs))
    assert response.status_code == 200 and "product" in response.context["form"].errors
    response = client.post(url("boost-add", shop), form_data(archived))
    assert "product" in response.context["form"].errors
    assert not Boost.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"rate_percent": "0.4"}, "rate_percent"),
        ({"rate_percent": "21"}, "rate_percent"),
        ({"rate_percent": "abc"}, "rate_percent"),
        ({"starts_at": "2030-01-02T10:00", "ends_at": "2030-01-01T10:00"}, "ends_at"),
    ],
)
def test_bad_rates_and_windows_are_form_errors(client, shop, overrides, field):
    product = ProductFactory(shop=shop)
    data = form_data(product, **{"starts_at": _local(timezone.now()), **overrides})
    response = client.post(url("boost-add", shop), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Boost.objects.exists()


def test_the_services_refusal_lands_on_the_form(client, shop):
    """An end in the past passes the form's checks but not the service's: the message is shown."""
    product = ProductFactory(shop=shop)
    past = timezone.now() - timedelta(days=2)
    response = client.post(
        url("boost-add", shop),
        form_data(product, starts_at=_local(past - timedelta(days=1)), ends_at=_local(past)),
    )
    assert response.status_code == 200
    assert "The boost must end in the future." in response.content.decode()
    assert not Boost.objects.exists()


def test_owner_edits_and_switches_a_boost_off(client, shop):
    boost = make_boost(shop)
    page = client.get(url("boost-edit", shop, boost.pk))
    assert page.context["form"].initial["rate_percent"] == Decimal("5.00")
    response = client.post(
        url("boost-edit", shop, boost.pk),
        form_data(boost.product, rate_percent="10", starts_at=_local(boost.starts_at), active="on"),
    )
    assert response.status_code == 302
    boost.refresh_from_db()
    assert boost.extra_rate == Decimal("0.1000") and boost.active
    assert client.post(url("boost-off", shop, boost.pk)).status_code == 302
    boost.refresh_from_db()
    assert boost.active is False


def test_a_boosted_boost_keeps_its_product(client, shop):
    boost = make_boost(shop)
    boosted_order(boost)
    other = ProductFactory(shop=shop)
    response = client.post(
        url("boost-edit", shop, boost.pk), form_data(other, starts_at=_local(boost.starts_at), active="on")
    )
    assert response.status_code == 200
    assert "its product cannot change" in response.content.decode()
    boost.refresh_from_db()
    assert boost.product_id != other.pk


# --- awards -------------------------------------------------------------------------------------------


def test_awards_list_the_orders_a_boost_funded_in_bounded_queries(client, shop, django_assert_max_num_queries):
    boost = make_boost(shop)
    orders = [boosted_order(boost) for _ in range(5)]
    other = make_boost(shop)
    boosted_order(other)
    with django_assert_max_num_queries(7):
        response = client.get(url("boost-awards", shop, boost.pk))
    body = response.content.decode()
    assert body.count("data-award=") == 5
    assert all(order.reference in body for order in orders)


# --- another shop -----------------------------------------------------------------------------------


def test_another_shops_boost_is_404_on_every_page(client, shop):
    theirs = make_boost(ShopFactory())
    assert client.get(url("boost-edit", shop, theirs.pk)).status_code == 404
    assert client.post(url("boost-edit", shop, theirs.pk), form_data(theirs.product)).status_code == 404
    assert client.post(url("boost-off", shop, theirs.pk)).status_code == 404
    assert client.get(url("boost-awards", shop, theirs.pk)).status_code == 404
    assert Boost.objects.get(pk=theirs.pk).active is True
