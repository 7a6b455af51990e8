"""GET /openapi.json: the contract in its precise form, agreeing with the service."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import fixture_paths, load_fixture

SCHEMAS = "#/components/schemas/"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json is not None
    return response.json


def _shape(path: str) -> str:
    """`/v1/messages/<message_id>` and `/v1/messages/{id}` both as `/v1/messages/{}`."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_is_openapi_3_1(document: dict[str, Any]) -> None:
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"] and document["info"]["version"]
    assert document["paths"]


OPERATOR_PATHS = {"/healthz", "/readyz", "/metrics"}
# Customer pages the document describes (their signed tokens are the access).
CUSTOMER_PAGES = {"/p/<token>", "/u/<token>", "/s/<code>"}


def test_every_v1_route_is_documented(client: FlaskClient, document: dict[str, Any]) -> None:
    documented = {_shape(path): {method.upper() for method in operations if method in HTTP_METHODS}
                  for path, operations in document["paths"].items()}
    served = {}
    for rule in client.application.url_map.iter_rules():
        if rule.rule.startswith("/v1/") or rule.rule in OPERATOR_PATHS | CUSTOMER_PAGES:
            methods = (rule.methods or set()) - {"HEAD", "OPTIONS"}
            served.setdefault(_shape(rule.rule), set()).update(methods)
    assert {"/v1/render", "/v1/messages/{}", "/v1/messages/{}/{}"} <= set(served)
    # Every route under /v1 (the contract's, and any it grows) is in the document, each method too;
    # and the document promises nothing the app does not serve.
    for path, methods in served.items():
        assert path in documented, f"{path} is served but not documented"
        assert methods <= documented[path], f"{path}: {methods - documented[path]} not documented"
    for path, methods in documented.items():
        assert methods <= served.get(path, set()), f"{path}: {methods} documented but not served"


def test_every_ref_resolves_within_components(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    refs = set(_refs(document))
    assert f"{SCHEMAS}RenderRequest" in refs
    for ref in refs:
        assert ref.startswith(SCHEMAS), ref
        assert ref.removeprefix(SCHEMAS) in schemas, ref
    # No pydantic leftovers that point nowhere in an OpenAPI document.
    assert "$defs" not in str(document)


def test_render_request_names_each_type(document: dict[str, Any]) -> None:
    render = document["components"]["schemas"]["RenderRequest"]
    mapping = render["discriminator"]["mapping"]
    assert set(mapping) == {"appointment", "invoice", "bill"}
    assert {item["$ref"] for item in render["oneOf"]} == set(mapping.values())


# The contract's table of message types and their channels.
CONTRACT_CHANNELS = {
    "AppointmentRequest": ["email", "web", "pdf", "ics", "sms"],
    "InvoiceRequest": ["email", "web", "pdf", "sms"],
    "BillRequest": ["email", "web", "pdf", "sms"],
    "Preferences": ["email", "web", "pdf", "ics", "sms"],
}


@pytest.mark.parametrize("model", CONTRACT_CHANNELS)
def test_channel_names_are_the_contracts(document: dict[str, Any], model: str) -> None:
    channels = document["components"]["schemas"][model]["properties"]["channels"]
    names = next(option for option in channels["anyOf"] if option.get("type") == "array")
    assert names["items"]["enum"] == CONTRACT_CHANNELS[model]
    assert names["uniqueItems"] is True


def test_the_schema_refuses_a_channel_the_type_has_not(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    invoice = load_fixture("invoice/capsules-nl")
    assert schema_errors(invoice | {"channels": ["email", "pdf"]}, {"$ref": f"{SCHEMAS}InvoiceRequest"},
                         schemas) == []
    assert schema_errors(invoice | {"channels": ["email", "ics"]}, {"$ref": f"{SCHEMAS}InvoiceRequest"},
                         schemas)


def _properties(schema: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (name, schema) of a property in the component schemas, however nested."""
    if isinstance(schema, dict):
        for name, value in (schema.get("properties") or {}).items():
            yield name, value
        for value in schema.values():
            yield from _properties(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _properties(item)


def test_money_is_never_a_json_number(document: dict[str, Any]) -> None:
    """CONTRACT.md: money is a decimal string, never a float; the service refuses numbers."""
    schemas = document["components"]["schemas"]
    request_schemas = {name: schema for name, schema in schemas.items()
                       if name not in {"Problem", "Message"}}
    numbers = [name for name, schema in _properties(request_schemas)
               if "number" in str(schema.get("type")) or "number" in str(schema.get("anyOf"))]
    assert not numbers
    unit_price = schemas["Line"]["properties"]["unit_price"]
    assert unit_price["type"] == "string"
    assert re.fullmatch(unit_price["pattern"], "4.20")
    assert not re.fullmatch(unit_price["pattern"], "4,20")


@pytest.mark.parametrize("name", ["AppointmentData", "Slot"])
def test_local_times_are_documented_without_offset(document: dict[str, Any], name: str) -> None:
    """A local date-time comes with an IANA zone; RFC 3339 `date-time` would demand an offset."""
    start = document["components"]["schemas"][name]["properties"]["start"]
    assert start.get("format") != "date-time"
    assert re.fullmatch(start["pattern"], "2030-12-03T14:30:00")
    assert not re.fullmatch(start["pattern"], "2030-12-03T14:30:00+01:00")


JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
}


def schema_errors(value: Any, schema: dict[str, Any], schemas: dict[str, Any], at: str = "") -> list[str]:
    """The keywords this document uses, checked as JSON Schema does: enough to tell whether a
    fixture agrees with the document when the `jsonschema` package is not installed."""
    if "$ref" in schema:
        return schema_errors(value, schemas[schema["$ref"].removeprefix(SCHEMAS)], schemas, at)
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            passing = [branch for branch in schema[keyword] if not schema_errors(value, branch, schemas, at)]
            if len(passing) != 1 if keyword == "oneOf" else not passing:
                return [f"{at or '(root)'}: {len(passing)} of {keyword} match"]
    kind = schema.get("type")
    if kind is not None and not JSON_TYPES[kind](value):
        return [f"{at or '(root)'}: not {kind}"]
    errors = []
    if "const" in schema and value != schema["const"]:
        errors.append(f"{at}: not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{at}: not one of {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{at}: {value!r} does not match {schema['pattern']}")
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
            errors.append(f"{at}: length {len(value)}")
    if isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            errors.append(f"{at}: {len(value)} items")
        for index, item in enumerate(value):
            errors += schema_errors(item, schema.get("items", {}), schemas, f"{at}[{index}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [f"{at}.{name}: required" for name in schema.get("required", []) if name not in value]
        for name, item in value.items():
            if name in properties:
                errors += schema_errors(item, properties[name], schemas, f"{at}.{name}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{at}.{name}: not allowed")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += schema_errors(item, schema["additionalProperties"], schemas, f"{at}.{name}")
    return errors


def _fixture_name(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


@pytest.mark.parametrize("path", fixture_paths(), ids=_fixture_name)
def test_every_fixture_agrees_with_render_request(document: dict[str, Any], path: Path) -> None:
    schemas = document["components"]["schemas"]
    fixture = load_fixture(_fixture_name(path))
    assert schema_errors(fixture, {"$ref": f"{SCHEMAS}RenderRequest"}, schemas) == []


def test_the_schema_check_can_fail(document: dict[str, Any]) -> None:
    """The check above refuses what the service refuses."""
    schemas = document["components"]["schemas"]
    render = {"$ref": f"{SCHEMAS}RenderRequest"}
    fixture = load_fixture("invoice/capsules-nl")
    fixture["data"]["lines"][0]["unit_price"] = 4.2
    fixture["data"]["lines"][0]["colour"] = "red"
    del fixture["data"]["lines"][0]["vat_rate"]
    errors = schema_errors(fixture, render, schemas)
    assert errors == ["(root): 0 of oneOf match"]
    line_errors = schema_errors(fixture["data"]["lines"][0], {"$ref": f"{SCHEMAS}Line"}, schemas)
    assert sorted(line_errors) == [".colour: not allowed", ".unit_price: not string", ".vat_rate: required"]
    assert schema_errors(load_fixture("invoice/capsules-nl") | {"type": "quote"}, render, schemas)


@pytest.mark.skipif(importlib.util.find_spec("jsonschema") is None, reason="jsonschema is not installed")
@pytest.mark.parametrize("path", fixture_paths(), ids=_fixture_name)
def test_every_fixture_validates_against_render_request(document: dict[str, Any], path: Path) -> None:
    import jsonschema
    fixture = load_fixture(_fixture_name(path))
    # The components as one resource, so every `#/components/schemas/...` resolves inside it.
    root = {"components": document["components"], "$ref": f"{SCHEMAS}RenderRequest"}
    validator = jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(fixture), key=lambda error: list(error.path))
    assert not errors, [f"{list(error.path)}: {error.message}" for error in errors]
