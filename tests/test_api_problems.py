"""Every API error is an RFC 9457 problem document (application/problem+json)."""

import pytest

from apps.accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def _assert_problem(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    return body


def test_malformed_json_gets_400_problem(client):
    client.force_login(UserFactory())
    response = client.patch("/api/v1/accounts/me", data="{not json", content_type="application/json")
    body = _assert_problem(response, 400, "parse-error")
    assert "JSON parse error" in body["detail"]


def test_invalid_field_gets_400_problem_listing_the_field(client):
    client.force_login(UserFactory())
    response = client.patch("/api/v1/accounts/me", data={"preferred_language": "xx"}, content_type="application/json")
    body = _assert_problem(response, 400, "validation-error")
    assert body["errors"] == [{"field": "preferred_language", "message": '"xx" is not a valid choice.'}]


def test_unauthenticated_gets_403_problem(client):
    _assert_problem(client.get("/api/v1/accounts/me"), 403, "not-authenticated")


def test_unknown_api_route_gets_404_problem(client):
    body = _assert_problem(client.get("/api/v1/nothing-here"), 404, "not-found")
    assert body["instance"] == "/api/v1/nothing-here"


def test_wrong_method_gets_405_problem(client):
    client.force_login(UserFactory())
    _assert_problem(client.delete("/api/v1/accounts/me"), 405, "method-not-allowed")


def test_unsupported_media_type_gets_415_problem(client):
    client.force_login(UserFactory())
    response = client.patch("/api/v1/accounts/me", data="a=b", content_type="application/x-www-form-urlencoded")
    _assert_problem(response, 415, "unsupported-media-type")


def test_problem_carries_the_request_id(client):
    response = client.get("/api/v1/nothing", HTTP_X_REQUEST_ID="req-xyz")
    assert response.json()["request_id"] == "req-xyz"


def test_me_reads_and_updates_the_profile(client):
    user = UserFactory(first_name="Mei")
    client.force_login(user)
    assert client.get("/api/v1/accounts/me").json()["first_name"] == "Mei"
    response = client.patch("/api/v1/accounts/me", data={"last_name": "Lim"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["last_name"] == "Lim"
    assert response.json()["mfa_enabled"] is False


def test_schema_and_docs_are_served(client):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/accounts/me" in schema.content
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
    assert b"cdn" not in docs.content.lower()


def test_server_error_in_api_is_a_problem_not_a_traceback(rf):
    from apps.core.views import error_500

    request = rf.get("/api/v1/accounts/me")
    response = error_500(request)
    assert response.status_code == 500
    assert response["Content-Type"] == PROBLEM
    assert "Traceback" not in response.content.decode()
