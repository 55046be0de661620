"""Shop API keys: created in the seller portal, shown once, stored hashed, revocable at once,
scoped, and good for their own shop only. Members use the same shop routes with their role."""

import hashlib
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.shops.api.throttling import ApiKeyRateThrottle
from apps.shops.models import ApiKey
from apps.shops.services import api_key_revoke

from .factories import MembershipFactory, ShopFactory, api_key_for

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def _products_url(shop) -> str:
    return reverse("api:catalog:shop-product-list", kwargs={"shop_slug": shop.slug})


def _assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["detail"]
    return body


def _new_product(**overrides) -> dict:
    body = {"title": "Rattan tray", "variants": [{"sku": "TRAY-1", "price": "18.00"}]}
    body.update(overrides)
    return body


def test_portal_shows_a_new_key_once_and_stores_only_its_hash(client, seller):
    membership = seller(client)
    url = reverse("shops:api-keys", args=[membership.shop.slug])

    response = client.post(url, {"name": "Shop POS", "scopes": ["catalog:read", "catalog:write"]})

    assert response.status_code == 200
    raw = re.search(r'id="new-api-key">([^<]+)<', response.content.decode()).group(1)
    assert raw.startswith("lb_")
    key = ApiKey.objects.get(shop=membership.shop)
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert key.scopes == ["catalog:read", "catalog:write"]
    assert not ApiKey.objects.filter(key_hash=raw).exists()
    assert raw not in client.get(url).content.decode()
    assert client.get(_products_url(membership.shop), HTTP_AUTHORIZATION=f"Api-Key {raw}").status_code == 200


def test_revoking_in_the_portal_stops_the_key_at_once(client, seller):
    membership = seller(client)
    key, raw = api_key_for(membership.shop, ["catalog:read"])
    api = _products_url(membership.shop)
    assert client.get(api, HTTP_AUTHORIZATION=f"Api-Key {raw}").status_code == 200

    response = client.post(reverse("shops:api-key-revoke", args=[membership.shop.slug, key.pk]))

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    client.logout()
    _assert_problem(client.get(api, HTTP_AUTHORIZATION=f"Api-Key {raw}"), 401, "invalid-api-key")


def test_use_records_last_used_at(client):
    shop = ShopFactory()
    key, raw = api_key_for(shop, ["catalog:read"])
    assert key.last_used_at is None
    before = timezone.now()

    assert client.get(_products_url(shop), HTTP_AUTHORIZATION=f"Api-Key {raw}").status_code == 200

    key.refresh_from_db()
    assert key.last_used_at >= before


def test_bearer_scheme_is_accepted_for_our_keys(client):
    shop = ShopFactory()
    _key, raw = api_key_for(shop, ["catalog:read"])
    assert client.get(_products_url(shop), HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


@pytest.mark.parametrize(
    "header",
    ["Api-Key lb_00000000_not-a-real-key", "Bearer lb_00000000_not-a-real-key", "Api-Key", "Api-Key two parts"],
)
def test_wrong_key_gets_401_problem_with_a_challenge(client, header):
    shop = ShopFactory()
    body = _assert_problem(client.get(_products_url(shop), HTTP_AUTHORIZATION=header), 401, "invalid-api-key")
    assert "Api-Key" in client.get(_products_url(shop), HTTP_AUTHORIZATION=header)["WWW-Authenticate"]
    assert "lb_00000000" not in body["detail"]


def test_wrong_key_is_refused_on_public_routes_too(client):
    """A client with a broken key learns so everywhere, not only on shop routes."""
    response = client.get(reverse("api:catalog:product-list"), HTTP_AUTHORIZATION="Api-Key lb_nope_nope")
    _assert_problem(response, 401, "invalid-api-key")


def test_revoked_key_gets_401(client):
    shop = ShopFactory()
    key, raw = api_key_for(shop, ["catalog:read"])
    api_key_revoke(key=key)
    body = _assert_problem(client.get(_products_url(shop), HTTP_AUTHORIZATION=f"Api-Key {raw}"), 401, "invalid-api-key")
    assert "revoked" in body["detail"]


def test_no_credentials_on_a_shop_route_is_not_authenticated(client):
    shop = ShopFactory()
    _assert_problem(client.get(_products_url(shop)), 403, "not-authenticated")


def test_missing_scope_gets_403_naming_the_scope(client):
    shop = ShopFactory()
    _key, raw = api_key_for(shop, ["catalog:read"])
    response = client.post(
        _products_url(shop), _new_product(), content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {raw}"
    )
    body = _assert_problem(response, 403, "scope-missing")
    assert "catalog:write" in body["detail"]


def test_key_without_any_catalog_scope_cannot_read(client):
    shop = ShopFactory()
    _key, raw = api_key_for(shop, ["orders"])
    _assert_problem(client.get(_products_url(shop), HTTP_AUTHORIZATION=f"Api-Key {raw}"), 403, "scope-missing")


def test_key_of_shop_a_on_shop_b_is_404(client):
    shop_a, shop_b = ShopFactory(), ShopFactory()
    _key, raw = api_key_for(shop_a, ["catalog:read", "catalog:write"])
    auth = {"HTTP_AUTHORIZATION": f"Api-Key {raw}"}
    _assert_problem(client.get(_products_url(shop_b), **auth), 404, "not-found")
    _assert_problem(
        client.post(_products_url(shop_b), _new_product(), content_type="application/json", **auth), 404, "not-found"
    )
    _assert_problem(client.get(_products_url(ShopFactory.build(slug="no-such-shop")), **auth), 404, "not-found")


def test_member_uses_the_same_routes_by_role(client, seller):
    membership = seller(client, role="inventory_manager")
    response = client.post(_products_url(membership.shop), _new_product(), content_type="application/json")
    assert response.status_code == 201, response.content
    assert client.get(_products_url(membership.shop)).json()["results"][0]["title"] == "Rattan tray"


def test_member_role_without_the_permission_gets_403(client, seller):
    membership = seller(client, role="warehouse_staff")
    assert client.get(_products_url(membership.shop)).status_code == 200
    response = client.post(_products_url(membership.shop), _new_product(), content_type="application/json")
    _assert_problem(response, 403, "shop-permission-denied")


def test_member_of_another_shop_gets_404(client, seller):
    seller(client)
    _assert_problem(client.get(_products_url(ShopFactory())), 404, "not-found")


def test_owner_must_verify_mfa_before_using_the_shop_api(client):
    """The seller portal's MFA rule holds on the API: a session alone is not enough for an owner."""
    membership = MembershipFactory(role="owner")
    client.force_login(membership.user)
    _assert_problem(client.get(_products_url(membership.shop)), 403, "mfa-required")


def test_requests_with_a_key_are_throttled_per_key(client, monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "2/min"})
    shop = ShopFactory()
    _key, raw = api_key_for(shop, ["catalog:read"])
    _other, other_raw = api_key_for(shop, ["catalog:read"])
    url = _products_url(shop)
    for _ in range(2):
        assert client.get(url, HTTP_AUTHORIZATION=f"Api-Key {raw}").status_code == 200

    _assert_problem(client.get(url, HTTP_AUTHORIZATION=f"Api-Key {raw}"), 429, "throttled")
    assert client.get(url, HTTP_AUTHORIZATION=f"Api-Key {other_raw}").status_code == 200


def test_schema_documents_the_api_key_scheme(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["name"] == "Authorization"
    create = schema["paths"]["/api/v1/shops/{shop_slug}/products"]["post"]
    assert {"ApiKeyAuth": []} in create["security"]


def test_key_is_refused_on_endpoints_for_people(client):
    """A key is not a person: /accounts/me (and any view not opting in to keys) answers 403."""
    _key, raw = api_key_for(ShopFactory(), ["catalog:read", "catalog:write"])
    response = client.get("/api/v1/accounts/me", HTTP_AUTHORIZATION=f"Api-Key {raw}")
    _assert_problem(response, 403, "api-key-not-accepted")


def test_view_attribute_required_perm_by_method(rf):
    """``ShopPermission`` also reads ``required_perm`` from the view, per HTTP method."""
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from apps.shops.api.permissions import ShopPermission
    from apps.shops.permissions import Perm

    class StockApi(APIView):
        permission_classes = [ShopPermission]
        required_perm = {"GET": Perm.STOCK_VIEW, "POST": Perm.STOCK_ADJUST}

        def get(self, request, shop_slug):
            return Response({"shop": self.shop.slug})

        def post(self, request, shop_slug):
            return Response({"shop": self.shop.slug})

    shop = ShopFactory()
    _key, stock_raw = api_key_for(shop, ["stock"])
    _key, catalog_raw = api_key_for(shop, ["catalog:read"])
    view = StockApi.as_view()

    def call(method, raw):
        request = getattr(rf, method)("/x", HTTP_AUTHORIZATION=f"Api-Key {raw}")
        return view(request, shop_slug=shop.slug)

    assert call("get", stock_raw).data == {"shop": shop.slug}
    assert call("post", stock_raw).status_code == 200
    assert call("get", catalog_raw).status_code == 403
