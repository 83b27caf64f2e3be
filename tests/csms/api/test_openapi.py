"""The OpenAPI document (issue "Field readiness" #9): every operation is described and documents its error
statuses with the one error body; request schemas are real; the docs page works offline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from chargeplane.csms.api.errors import _MAPPING, STATION_CALL, STATUS_DESCRIPTIONS, http_error
from chargeplane.csms.app import Csms
from chargeplane.csms.settings import CsmsSettings
from tests.csms.conftest import RunningCsms

METHODS = {"get", "post", "put", "patch", "delete"}
FILE_BODIES = {
    "/api/v1/uploads/{token}",
    "/api/v1/uploads/{token}/{filename}",  # a station's log upload
    "/api/v1/firmware",  # a firmware image
}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("openapi") / "c.db"
    schema: dict[str, Any] = Csms(
        CsmsSettings(database_url=f"sqlite+aiosqlite:///{path}")
    ).api.openapi_schema.to_schema()
    return schema


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def test_every_operation_has_a_description_and_the_statuses_of_every_route(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        assert operation.get("description"), (method, path)
        assert {"400", "401", "403"} <= set(operation["responses"]), (method, path)


def test_routes_with_a_path_parameter_document_404_and_station_calls_their_statuses(
    document: dict[str, Any],
) -> None:
    calls = 0
    for method, path, operation in operations(document):
        statuses = set(operation["responses"])
        if "{" in path:
            assert "404" in statuses, (method, path)
        sends = "/commands/" in path or path.endswith(
            ("/reset", "/remote-start", "/availability", "/reservations")
        )
        if sends and method == "post":
            calls += 1
            assert {str(s) for s in STATION_CALL} <= statuses, (method, path)
    assert calls >= 5


def test_error_responses_carry_the_error_body(document: dict[str, Any]) -> None:
    body = document["components"]["schemas"]["ErrorBody"]
    assert set(body["properties"]) == {"status_code", "detail", "extra"}
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
                assert response["description"] == STATUS_DESCRIPTIONS[int(status)]


def test_every_status_the_mapping_produces_is_described() -> None:
    produced = {
        http_error(kind.__new__(kind)).status_code for kind in _MAPPING if kind.__init__ is object.__init__
    }
    assert produced <= set(STATUS_DESCRIPTIONS)


def _empty_items(node: Any, where: str = "$") -> Iterator[str]:
    if isinstance(node, dict):
        if "items" in node and node["items"] in ({}, None):
            yield where
        for key, value in node.items():
            yield from _empty_items(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _empty_items(value, f"{where}[{index}]")


def test_no_schema_has_an_empty_items(document: dict[str, Any]) -> None:
    assert list(_empty_items(document)) == []


def test_the_token_import_body_is_an_array_of_id_tokens(document: dict[str, Any]) -> None:
    body = document["paths"]["/api/v1/id-tokens/import"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert schema["items"] == {"$ref": "#/components/schemas/IdTokenIn"}
    assert "IdTokenIn" in document["components"]["schemas"]


async def test_the_docs_page_loads_only_assets_the_product_serves(csms: RunningCsms) -> None:
    for page in ("/schema", "/schema/swagger"):
        response = await csms.api.get(page)
        assert response.status_code == 200, page
        html = response.text
        urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
        assert urls, page
        for url in urls:
            assert url.startswith("/"), (page, url)
            assert not url.startswith("//"), (page, url)
            asset = await csms.api.get(url)
            assert asset.status_code == 200, url
            assert asset.content
        assert not re.search(r"https?://", html.split("spec:")[0]), page  # nothing before the inline spec


async def test_the_openapi_document_is_served_without_a_token(csms: RunningCsms) -> None:
    # Built on first request: a few seconds for the whole API on a loaded machine (httpx waits 5 s by default).
    response = await csms.api.get("/schema/openapi.json", timeout=60)
    assert response.status_code == 200
    assert isinstance(response.json()["paths"], dict)


def test_every_post_and_patch_documents_its_body(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        if method in ("post", "patch"):
            body = operation.get("requestBody")
            assert body, (method, path)
            if path in FILE_BODIES:  # a file, as the raw body or in a form
                assert set(body["content"]) == {"application/octet-stream", "multipart/form-data"}
                continue
            if path == "/api/v1/pki/{kind}/ocsp":  # RFC 6960: a DER OCSPRequest
                assert set(body["content"]) == {"application/ocsp-request"}
                continue
            assert body["content"]["application/json"]["schema"], (method, path)
