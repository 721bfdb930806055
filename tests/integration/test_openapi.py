"""The OpenAPI document as the truth: every error documented with the one body, the docs UI
served by the gateway itself."""

from __future__ import annotations

import re

import httpx

from tests.support.system import System

METHODS = ("get", "post", "put", "patch", "delete")
#: The error statuses answered with ErrorBody (a 416 of a byte range has no body).
ERRORS = {"400", "401", "403", "404", "409", "413", "422", "429"}


async def _document(system: System) -> dict:  # type: ignore[type-arg]
    async with system.client(None) as http:
        response = await http.get("/schema/openapi.json")
    assert response.status_code == 200
    document: dict = response.json()  # type: ignore[type-arg]
    return document


async def test_openapi_documents_every_error_with_the_error_body(shared_system: System) -> None:
    # Given the document the gateway serves
    document = await _document(shared_system)
    # When every operation's responses are read
    for path, item in document["paths"].items():
        for method, operation in ((m, o) for m, o in item.items() if m in METHODS):
            errors = {status: r for status, r in operation["responses"].items() if status in ERRORS}
            # Then each one answers 422 at least, and every error carries ErrorBody
            assert "422" in errors, (method, path)
            for status, response in errors.items():
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
            # And every route that needs a key says so and documents 401
            if path.startswith("/v1/"):
                assert operation["security"] == [{"apiKey": []}] and "401" in errors, (method, path)


async def test_openapi_states_the_constraints_the_server_enforces(shared_system: System) -> None:
    # Given the document the gateway serves
    schemas = (await _document(shared_system))["components"]["schemas"]
    job = schemas["JobSubmit"]
    # Then unknown fields are refused, engines and operations are named, and each pair's
    # params are its operation's
    assert job["additionalProperties"] is False
    assert "general" in job["properties"]["engine"]["enum"] and "" not in job["properties"]["engine"]["enum"]
    echo = next(c for c in job["anyOf"] if c.get("properties", {}).get("operation") == {"const": "echo"})
    assert echo["properties"]["params"] == {"$ref": "#/components/schemas/EchoParams"}
    assert schemas["EchoParams"]["additionalProperties"] is False
    priority = job["properties"]["priority"]["anyOf"]
    assert {"type": "integer", "minimum": 0, "maximum": 9} in priority


async def test_swagger_ui_loads_only_the_gateways_own_assets(shared_system: System) -> None:
    # Given the docs UI page
    async with httpx.AsyncClient(base_url=shared_system.base_url, timeout=30) as http:
        page = await http.get("/schema/swagger")
        # When the scripts and stylesheets it names are fetched
        assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
        fetched = [await http.get(asset) for asset in assets]
    # Then every one is a path of the gateway's own, and it serves them
    assert page.status_code == 200 and assets
    assert all(asset.startswith("/schema/assets/") for asset in assets), assets
    assert [response.status_code for response in fetched] == [200] * len(assets)
    assert any("SwaggerUIBundle" in response.text for response in fetched)
