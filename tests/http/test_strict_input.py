"""Bad input is a problem, never a 500 (app/strict_json.py, app/http/body.py, the schemas'
decimal and one-line rules, the .eml's headers, the NDJSON limits): each finding of the
hardening review, through the real app."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from app.config import load
from app.store.models import Message
from tests.conftest import _config, load_fixture, make_app

DEEP = 10_000


def invoice(**data: Any) -> dict[str, Any]:
    document = load_fixture("invoice/capsules-nl") | {"channels": ["email"]}
    document["data"] |= data
    return document


def stored(app: Flask) -> int:
    with app.extensions["touchpoint.db"]() as db:
        return db.scalar(select(func.count()).select_from(Message)) or 0


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.json


def nested(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def ndjson_job(client: FlaskClient, lines: list[bytes], content_type: str = "application/x-ndjson") -> Any:
    return client.post("/v1/jobs", data=b"\n".join(lines) + b"\n", content_type=content_type)


def failed_items(client: FlaskClient, job_id: str) -> dict[int, str]:
    listed = client.get(f"/v1/jobs/{job_id}/items?status=failed").json["items"]
    return {item["position"]: item["problem"]["detail"] for item in listed}


# --- JSON depth ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/v1/render", "/v1/jobs", "/v1/profiles/c-1"])
def test_json_nested_ten_thousand_deep_is_a_400(app: Flask, client: FlaskClient, path: str) -> None:
    call = client.put if "profiles" in path else client.post
    body = b'{"items": ' + nested(DEEP) + b"}"
    assert "deeper than 64" in problem(call(path, data=body, content_type="application/json"), 400)["detail"]
    assert stored(app) == 0


def test_the_depth_limit_is_64(client: FlaskClient) -> None:
    at_limit = client.post("/v1/render", data=nested(64), content_type="application/json")
    assert at_limit.status_code == 422  # parsed, and refused for what it is: not a request
    problem(client.post("/v1/render", data=nested(65), content_type="application/json"), 400)


def test_each_bad_ndjson_line_fails_alone(client: FlaskClient) -> None:
    good = json.dumps({**invoice(), "reference": "good"}).encode()
    response = ndjson_job(client, [
        good, nested(DEEP), '{"type": "bill"}'.encode("utf-16"),
        b'{"type": "bill", "type": "invoice"}', b"\xef\xbb\xbf{}", good])
    assert response.status_code == 202, response.json
    assert (response.json["total"], response.json["failed"]) == (6, 4)
    details = failed_items(client, response.json["id"])
    assert sorted(details) == [1, 2, 3, 4]
    assert "line 2 nests arrays and objects deeper than 64" in details[1]
    assert "line 3 is not UTF-8" in details[2]
    assert 'the key "type" appears twice' in details[3]
    assert "byte-order mark" in details[4]


# --- decimals --------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, words", [
    ("quantity", "999999999999999.999999", "more than 10 digits before"),
    ("quantity", "12345678901", "more than 10 digits before"),
    ("unit_price", "1.0000001", "more than 6 digits after"),
    ("unit_price", "1e3", "decimal string"),
    ("unit_price", "\u0661\u0662", "decimal string"),  # Arabic-Indic digits: Decimal reads them
])
def test_a_decimal_beyond_the_precision_is_a_422_naming_it(app: Flask, client: FlaskClient,
                                                           field: str, value: str, words: str) -> None:
    document = invoice()
    document["data"]["lines"][0][field] = value
    [error] = problem(client.post("/v1/render", json=document), 422)["errors"]
    assert error["path"] == f"data.lines[0].{field}" and words in error["message"]
    assert stored(app) == 0


def test_the_largest_invoice_within_the_limits_renders(client: FlaskClient) -> None:
    """1,000 lines of the largest quantity times the largest price: within Decimal's 28 digits."""
    line = {"description": "Bulk", "quantity": "9999999999.999999", "unit_price": "9999999999.999999",
            "vat_rate": "21"}
    document = invoice(lines=[line] * 1000) | {"channels": ["sms"]}
    del document["data"]["totals"]  # computed, then: no total could be written within the limits
    response = client.post("/v1/render", json=document)
    assert response.status_code == 201, response.get_data(as_text=True)


# --- control characters ----------------------------------------------------------------------

@pytest.mark.parametrize("character", ["\r\n", "\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85", "\u2028"],
                         ids=["crlf", "lf", "cr", "tab", "nul", "esc", "del", "c1-nel", "line-separator"])
def test_a_control_character_in_a_one_line_field_is_a_422(app: Flask, client: FlaskClient,
                                                          character: str) -> None:
    document = invoice(number=f"INV-1{character}Bcc: evil@example.com")
    document["data"]["buyer"]["name"] = f"Ann{character}Bcc: evil@example.com"
    document["data"]["lines"][0]["description"] = f"Capsules{character}x"
    document["recipient"] = {"name": {"given": f"Ann{character}B"}, "email": "ann@example.com"}
    document["reference"] = f"ref{character}1"
    errors = problem(client.post("/v1/render", json=document), 422)["errors"]
    assert {error["path"] for error in errors} == {
        "data.number", "data.buyer.name", "data.lines[0].description", "recipient.name.given", "reference"}
    assert all("control characters" in error["message"] for error in errors)
    assert stored(app) == 0


def test_a_stored_subject_with_crlf_never_breaks_the_eml(app: Flask, client: FlaskClient) -> None:
    """A message stored before the rule (or a template's text) with CR LF in its subject:
    the .eml is served, one Subject line, and no header of the caller's making."""
    answer = client.post("/v1/render", json=invoice()).json
    with app.extensions["touchpoint.db"]() as db:
        message = db.get(Message, answer["id"])
        assert message is not None and message.envelope is not None
        envelope = {**message.envelope, "subject": "Invoice\r\nBcc: evil@example.com",
                    "to": ["Ann\r\nCc: x@example.com", "ann@example.com"]}
        db.execute(update(Message).where(Message.id == answer["id"]).values(envelope=envelope))
        db.commit()
    response = client.get(f"/v1/messages/{answer['id']}/email.eml", buffered=True)
    assert response.status_code == 200
    mail = message_from_bytes(response.data, policy=policy.default)
    assert mail["Bcc"] is None and mail["Cc"] is None
    assert mail["Subject"] == "Invoice  Bcc: evil@example.com"
    assert mail["To"].addresses[0].addr_spec == "ann@example.com"


# --- media types, charsets, duplicate keys ---------------------------------------------------

@pytest.mark.parametrize("content_type", [
    "application/evil+json", "application/problem+json", "application/json; charset=utf-16",
    "application/json; charset=latin-1"])
def test_only_json_in_utf8_is_accepted(app: Flask, client: FlaskClient, content_type: str) -> None:
    problem(client.post("/v1/render", data=json.dumps(invoice()), content_type=content_type), 415)
    assert stored(app) == 0


def test_a_utf16_body_is_a_400(app: Flask, client: FlaskClient) -> None:
    body = json.dumps(invoice()).encode("utf-16")
    assert "not UTF-8" in problem(client.post("/v1/render", data=body, content_type="application/json"),
                                  400)["detail"]
    assert stored(app) == 0


def test_an_ndjson_body_in_another_charset_is_a_415(client: FlaskClient) -> None:
    problem(ndjson_job(client, [b"{}"], "application/x-ndjson; charset=utf-16"), 415)


def test_a_duplicate_key_is_a_400_not_the_last_one_winning(app: Flask, client: FlaskClient) -> None:
    document = invoice()
    raw = json.dumps(document).replace('"unit_price": "', '"unit_price": "999.00", "unit_price": "', 1)
    response = client.post("/v1/render", data=raw, content_type="application/json")
    assert 'the key "unit_price" appears twice' in problem(response, 400)["detail"]
    assert stored(app) == 0


def test_a_merge_patch_is_still_accepted(client: FlaskClient) -> None:
    assert client.put("/v1/profiles/c-1", json={"locale": "nl-BE"}).status_code == 201
    response = client.patch("/v1/profiles/c-1", data='{"locale": "fr-BE"}',
                            content_type="application/merge-patch+json")
    assert response.status_code == 200 and response.json["locale"] == "fr-BE"


# --- NDJSON limits ---------------------------------------------------------------------------

def test_the_ndjson_body_limit_is_64_mb_by_default_and_read_from_the_environment(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOUCHPOINT_VAR_DIR", str(tmp_path))
    assert load({"SECRET_KEY": "k"})["JOB_MAX_NDJSON_BYTES"] == 64 * 1024 * 1024
    monkeypatch.setenv("JOB_MAX_NDJSON_BYTES", "1000000")
    assert load({"SECRET_KEY": "k"})["JOB_MAX_NDJSON_BYTES"] == 1_000_000


def test_an_ndjson_body_over_the_limit_is_a_413_and_stores_nothing(tmp_path: Path) -> None:
    app = make_app({**_config(tmp_path, f"sqlite:///{tmp_path / 'test.db'}"),
                    "JOB_MAX_NDJSON_BYTES": 4096, "MAX_CONTENT_LENGTH": 1024})
    client = app.test_client()
    junk = [b'{"junk": "' + b"x" * 100 + b'"}'] * 50  # about 5 KB
    problem(ndjson_job(client, junk), 413)
    long_line = ndjson_job(client, [b'{"junk": "' + b"x" * 2000 + b'"}', b"{}"])
    assert long_line.status_code == 202  # a line over MAX_CONTENT_LENGTH fails alone
    assert "longer than 1024 bytes" in failed_items(client, long_line.json["id"])[0]
    app.extensions["touchpoint.engine"].dispose()
