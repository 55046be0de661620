import factory

from apps.inventory.models import StockLocation
from apps.shops.tests.factories import ShopFactory


class StockLocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StockLocation

    shop = factory.SubFactory(ShopFactory)
    name = factory.Sequence(lambda n: f"Warehouse {n}")
    kind = StockLocation.Kind.WAREHOUSE
    is_default = False
