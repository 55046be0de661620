from decimal import Decimal

import factory
from django.utils import timezone

from apps.catalog.models import Category, Product, Variant
from apps.shops.tests.factories import ShopFactory


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    shop = factory.SubFactory(ShopFactory)
    category = factory.SubFactory(CategoryFactory)
    title = factory.Sequence(lambda n: f"Rattan basket {n}")
    slug = factory.Sequence(lambda n: f"rattan-basket-{n}")
    description = "Hand-woven from Indonesian rattan."
    status = Product.Status.ACTIVE
    published_at = factory.LazyFunction(timezone.now)


class VariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Variant

    product = factory.SubFactory(ProductFactory)
    shop = factory.SelfAttribute("product.shop")
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    options = factory.LazyFunction(lambda: {"size": "M"})
    price = Decimal("25.00")
    weight_grams = 400
