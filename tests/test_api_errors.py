"""REST API errors: every failure comes back in Intercom's ``error.list`` envelope, naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Server

JSON = {"Content-Type": "application/json"}


def envelope(response: httpx.Response, status: int) -> list[dict[str, Any]]:
    """The errors of a response after checking it is exactly Intercom's envelope."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"type", "request_id", "errors"}, body
    assert body["type"] == "error.list"
    assert isinstance(body["request_id"], str) and body["request_id"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["errors"], body
    for error in body["errors"]:
        assert set(error) <= {"code", "message", "field"}, error
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str) and error["message"]
        if "field" in error:
            assert isinstance(error["field"], str) and error["field"]
    return list(body["errors"])


def single(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    [error] = envelope(response, status)
    assert error["code"] == code, error
    assert error.get("field") == field, error
    return error


def contact_count(api: httpx.Client) -> int:
    response = api.get("/contacts")
    assert response.status_code == 200, response.text
    return int(response.json()["total_count"])


@pytest.fixture
def anonymous(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


# --- bodies ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["{bad", '{"role": "user",}', "{'role': 'user'}", '{"role": "user"'])
def test_malformed_json_is_400_and_writes_nothing(api: httpx.Client, raw: str) -> None:
    error = single(api.post("/contacts", content=raw, headers=JSON), 400, "parameter_invalid")
    assert "JSON" in error["message"]
    assert contact_count(api) == 0


@pytest.mark.parametrize("raw", ["[1, 2]", '"a string"', "42", "null"])
def test_a_body_that_is_not_an_object_is_400(api: httpx.Client, raw: str) -> None:
    response = api.post("/contacts", content=raw, headers=JSON)
    assert response.status_code == 400, response.text
    assert envelope(response, 400)[0]["code"] in ("parameter_invalid", "parameter_not_found")
    assert contact_count(api) == 0


def test_a_missing_body_is_400(api: httpx.Client) -> None:
    error = single(api.post("/contacts", headers=JSON), 400, "parameter_not_found")
    assert "None" not in error["message"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/contacts", {"role": "lead", "nickname": "Ada"}, "nickname"),
        ("/contacts", {"role": "lead", "user_id": "u-1"}, "user_id"),
        ("/tags", {"name": "VIP", "colour": "red"}, "colour"),
        ("/data_attributes", {"name": "x", "data_type": "string", "format": "x"}, "format"),
        (
            "/contacts/search",
            {"query": {"field": "name", "operator": "=", "value": "x"}, "pagination": {"page": 2}},
            "pagination.page",
        ),
    ],
)
def test_an_unknown_body_field_is_400_naming_it(
    api: httpx.Client, path: str, body: dict[str, Any], field: str
) -> None:
    error = single(api.post(path, json=body), 400, "parameter_invalid", field)
    assert field.rpartition(".")[2] in error["message"]
    assert contact_count(api) == 0


def test_several_bad_fields_are_all_reported(api: httpx.Client) -> None:
    response = api.post("/contacts", json={"role": "admin", "signed_up_at": "soon", "nickname": "x"})
    fields = sorted(e.get("field") for e in envelope(response, 400))
    assert fields == ["nickname", "role", "signed_up_at"]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"role": "lead", "name": "a\\u0000b"}', "name"),
        ('{"role": "lead", "custom_attributes": {"score": NaN}}', "custom_attributes.score"),
        ('{"role": "lead", "custom_attributes": {"score": Infinity}}', "custom_attributes.score"),
        ('{"role": "lead", "custom_attributes": {"k\\u0000": 1}}', "custom_attributes"),
    ],
)
def test_values_no_database_can_store_are_400_on_every_backend(
    api: httpx.Client, raw: str, field: str
) -> None:
    single(api.post("/contacts", content=raw, headers=JSON), 400, "parameter_invalid", field)
    assert contact_count(api) == 0


@pytest.mark.parametrize(
    "path",
    ["/contacts/a%00b", "/contacts/find_by_external_id/a%00b", "/tags/a%00b", "/contacts?starting_after=%00"],
)
def test_a_nul_in_the_url_is_400(api: httpx.Client, path: str) -> None:
    single(api.get(path), 400, "parameter_invalid")


def test_a_forged_cursor_holding_a_nul_is_400(api: httpx.Client) -> None:
    forged = "WzIsICJhXHUwMDAwYiJd"  # base64 of [2, "a\u0000b"]
    single(
        api.get("/contacts", params={"starting_after": forged}), 400, "parameter_invalid", "starting_after"
    )


# --- authentication -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer cm_not-a-real-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "cm_not-a-real-token"},
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/contacts"), ("POST", "/contacts"), ("GET", "/tags"), ("GET", "/data_attributes")],
)
def test_a_missing_or_wrong_token_is_401(
    anonymous: httpx.Client, api: httpx.Client, headers: dict[str, str], method: str, path: str
) -> None:
    response = anonymous.request(
        method, path, headers=headers, json={"role": "user", "email": "a@example.com"}
    )
    single(response, 401, "unauthorized")
    assert contact_count(api) == 0


def test_a_token_is_accepted_with_any_scheme_case(anonymous: httpx.Client, api: httpx.Client) -> None:
    token = api.headers["authorization"].partition(" ")[2]
    response = anonymous.get("/contacts", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200, response.text


# --- routes and methods ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/contacts/abc/unknown", "/v2/contacts"])
def test_an_unknown_route_is_a_404_envelope(api: httpx.Client, path: str) -> None:
    single(api.get(path), 404, "not_found")


def test_an_unknown_route_is_404_even_without_a_token(anonymous: httpx.Client) -> None:
    single(anonymous.get("/nope"), 404, "not_found")


def test_a_wrong_method_is_a_405_envelope(api: httpx.Client) -> None:
    single(api.patch("/contacts/abc", json={}), 405, "method_not_allowed")


def test_a_missing_contact_is_a_404_envelope_naming_the_id(api: httpx.Client) -> None:
    single(api.get("/contacts/0000nope"), 404, "not_found", "id")


def test_every_response_carries_a_fresh_request_id(api: httpx.Client) -> None:
    ids = {api.get("/nope").json()["request_id"] for _ in range(3)}
    assert len(ids) == 3
    assert api.get("/contacts").headers["x-request-id"]


# --- Intercom-Version -----------------------------------------------------------------------------------


def test_a_missing_intercom_version_uses_the_default(api: httpx.Client) -> None:
    response = api.post("/contacts", json={"role": "lead"})
    assert response.status_code == 200, response.text
    assert response.headers["intercom-version"] == "2.11"


@pytest.mark.parametrize("version", ["2.11", "2.10", "2.9", "Unstable"])
def test_a_given_intercom_version_is_accepted(api: httpx.Client, version: str) -> None:
    response = api.post("/contacts", json={"role": "lead"}, headers={"Intercom-Version": version})
    assert response.status_code == 200, response.text
    assert response.headers["intercom-version"] == version
    assert (
        api.get(f"/contacts/{response.json()['id']}", headers={"Intercom-Version": version}).status_code
        == 200
    )


def test_errors_keep_the_envelope_with_an_intercom_version(api: httpx.Client) -> None:
    single(api.get("/contacts/0000nope", headers={"Intercom-Version": "2.11"}), 404, "not_found", "id")
