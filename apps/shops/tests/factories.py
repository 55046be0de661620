from decimal import Decimal

import factory

from apps.accounts.tests.factories import UserFactory
from apps.shops.models import ApiKey, Membership, Shop
from apps.shops.permissions import Role
from apps.shops.services import api_key_create


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop

    name = factory.Sequence(lambda n: f"Kampong Crafts {n}")
    slug = factory.Sequence(lambda n: f"kampong-crafts-{n}")
    tagline = "Handmade in Tiong Bahru"
    story = "We weave **rattan** baskets by hand."
    address_line1 = "78 Yong Siak Street"
    postcode = "163078"
    latitude = Decimal("1.284200")
    longitude = Decimal("103.832400")
    currency = "SGD"
    time_zone = "Asia/Singapore"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    shop = factory.SubFactory(ShopFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.OWNER


def api_key_for(shop: Shop, scopes: list[str]) -> tuple[ApiKey, str]:
    return api_key_create(shop=shop, created_by=None, name="Test integration", scopes=scopes)
