"""POST /v1/render refuses bad input with a problem naming the field, and stores nothing;
what it accepts comes out escaped; the PDF fetches nothing; bad links get their pages."""

from __future__ import annotations

import copy
import email
import json
import logging
import re
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.channels.layout import FetchRefused, OwnAssetsFetcher, render_document
from app.store.artifacts import ArtifactStore
from app.store.models import Artifact, Message
from tests.conftest import PUBLIC_BASE_URL, load_fixture

PROBLEM_JSON = "application/problem+json"
BRUSSELS = ZoneInfo("Europe/Brussels")
XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"

Mutation = Callable[[dict[str, Any]], None]


def stored(app: Flask) -> tuple[int, int, list[str]]:
    """Message rows, artifact rows, and every path under ARTIFACT_DIR/messages."""
    with app.extensions["touchpoint.db"]() as db:
        messages = db.scalar(select(func.count()).select_from(Message))
        artifacts = db.scalar(select(func.count()).select_from(Artifact))
    root = Path(app.config["ARTIFACT_DIR"]) / "messages"
    return messages or 0, artifacts or 0, sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def get(client: FlaskClient, path: str) -> TestResponse:
    """GET, read to the end: a file answer is closed at once, not left to the garbage collector."""
    return client.get(path, buffered=True)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = json.loads(response.get_data(as_text=True))
    assert body["status"] == status
    assert body["title"] and body["type"] and body["detail"]
    return body


@pytest.fixture
def nothing_stored(app: Flask) -> Iterator[None]:
    """The test's requests fail: afterwards the archive is as it was before."""
    before = stored(app)
    yield
    assert stored(app) == before


# --- 400, 413, 415 -----------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b"{bad", b"", b"[1,", b'{"type": "invoice",}', b"\xff\xfe{}", b'{"a": NaN}', b"Infinity",
], ids=["brace", "empty", "unclosed", "trailing-comma", "not-utf8", "nan", "infinity"])
def test_malformed_json_is_400(client: FlaskClient, nothing_stored: None, body: bytes) -> None:
    problem = assert_problem(client.post("/v1/render", data=body, content_type="application/json"), 400)
    assert "JSON" in problem["detail"]


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "text/json", "application/xml", None,
])
def test_not_json_is_415(client: FlaskClient, nothing_stored: None, content_type: str | None) -> None:
    body = json.dumps(load_fixture("invoice/capsules-nl")).encode()
    response = client.post("/v1/render", data=body, content_type=content_type)
    assert_problem(response, 415)


def test_json_with_charset_parameter_is_accepted(client: FlaskClient) -> None:
    body = load_fixture("invoice/capsules-nl") | {"channels": ["sms"]}
    response = client.post("/v1/render", data=json.dumps(body),
                           content_type="application/json; charset=utf-8")
    assert response.status_code == 201, response.get_data(as_text=True)


def _padded(document: dict[str, Any], size: int) -> bytes:
    """`document` as JSON of exactly `size` bytes: the reference padded with spaces at the end."""
    raw = json.dumps(document).encode()
    assert raw.endswith(b"}")
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


def test_body_over_the_default_limit_is_413(client: FlaskClient, nothing_stored: None) -> None:
    assert client.application.config["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024
    body = _padded(load_fixture("invoice/capsules-nl"), 5 * 1024 * 1024 + 1)
    assert_problem(client.post("/v1/render", data=body, content_type="application/json"), 413)


@pytest.mark.parametrize("over", [1, 1000])
def test_body_over_a_configured_limit_is_413(client: FlaskClient, over: int) -> None:
    document = load_fixture("invoice/capsules-nl") | {"channels": ["sms"]}
    limit = len(json.dumps(document)) + 10
    client.application.config["MAX_CONTENT_LENGTH"] = limit
    # At the limit it is served; one byte over, refused.
    at_limit = client.post("/v1/render", data=_padded(document, limit), content_type="application/json")
    assert at_limit.status_code == 201, at_limit.get_data(as_text=True)
    before = stored(client.application)
    response = client.post("/v1/render", data=_padded(document, limit + over),
                           content_type="application/json")
    assert_problem(response, 413)
    assert stored(client.application) == before


# --- 422: each names its field -----------------------------------------------------------------

def _dst_changes(year: int, zone: ZoneInfo) -> list[tuple[datetime, timedelta]]:
    """Each UTC offset change of `year` in `zone`: the first wall-clock hour it affects, and the jump.

    Found by walking the year hour by hour in UTC, so the test relies on the tz database,
    not on a rule such as "the last Sunday of March".
    """
    changes = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    previous = moment.astimezone(zone).utcoffset()
    while moment.year == year:
        moment += timedelta(hours=1)
        offset = moment.astimezone(zone).utcoffset()
        assert offset is not None and previous is not None
        if offset != previous:
            # The affected wall-clock hour starts at the earlier of the two local readings.
            wall = (moment + min(offset, previous)).replace(tzinfo=None)
            changes.append((wall, offset - previous))
        previous = offset
    return changes


def _dst_wall_time(year: int, forward: bool) -> datetime:
    """A local time 30 minutes into the hour skipped (forward) or repeated (back) in Brussels."""
    [wall] = [wall for wall, jump in _dst_changes(year, BRUSSELS) if (jump > timedelta(0)) == forward]
    value = wall + timedelta(minutes=30)
    # The premise, checked with zoneinfo: a skipped time does not survive a round trip through
    # UTC; a repeated one has two offsets.
    first, second = value.replace(tzinfo=BRUSSELS, fold=0), value.replace(tzinfo=BRUSSELS, fold=1)
    assert first.utcoffset() != second.utcoffset()
    roundtrip = first.astimezone(UTC).astimezone(BRUSSELS).replace(tzinfo=None)
    assert (roundtrip != value) == forward
    return value


SPRING_GAP = _dst_wall_time(2031, forward=True)
AUTUMN_OVERLAP = _dst_wall_time(2031, forward=False)


def _set(path: str, value: Any) -> Mutation:
    """Set a dotted path (`data.lines.0.unit_price`) in the request."""
    def mutate(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = document
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value
    return mutate


def _delete(path: str) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = document
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[last]
    return mutate


def _when(start: datetime, end: datetime) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        document["data"]["start"] = start.isoformat()
        document["data"]["end"] = end.isoformat()
        document["data"].pop("reschedule", None)
    return mutate


def _second_line_without_vat(document: dict[str, Any]) -> None:
    line = copy.deepcopy(document["data"]["lines"][0])
    del line["vat_rate"]
    document["data"]["lines"].append(line)
    del document["data"]["totals"]


INVOICE, APPOINTMENT, BILL = "invoice/capsules-nl", "appointment/confirmation-nl", "bill/electricity-nl"

# (fixture, change, the one path named, words the message must contain)
INVALID: dict[str, tuple[str, Mutation, str, tuple[str, ...]]] = {
    "unknown-type": (INVOICE, _set("type", "quote"), "type", ("invoice",)),
    "type-not-a-string": (INVOICE, _set("type", 3), "type", ()),
    "unknown-brand": (INVOICE, _set("brand", "demo-tea"), "brand", ("demo-tea",)),
    "unknown-locale": (INVOICE, _set("locale", "xx-YY"), "locale", ("xx-YY",)),
    "unsupported-language": (INVOICE, _set("locale", "es"), "locale", ("'es'",)),
    "recipient-locale": (INVOICE, _set("recipient.locale", "es-ES"), "recipient.locale", ("es-ES",)),
    "channel-not-of-type": (INVOICE, _set("channels", ["ics"]), "channels[0]", ("ics", "invoice")),
    "second-channel-not-of-type": (INVOICE, _set("channels", ["email", "ics"]), "channels[1]", ("ics",)),
    "unknown-channel": (INVOICE, _set("channels", ["fax"]), "channels[0]",
                        ("'fax' is not a channel", "email, web, pdf, sms")),
    "channel-twice": (INVOICE, _set("channels", ["email", "pdf", "email"]), "channels", ("twice",)),
    "channel-not-a-name": (INVOICE, _set("channels", ["Email"]), "channels[0]", ("pattern",)),
    "unknown-field": (INVOICE, _set("data.lines.0.colour", "red"), "data.lines[0].colour", ("known",)),
    "missing-deep-field": (INVOICE, _delete("data.lines.0.vat_rate"), "data.lines[0].vat_rate",
                           ("required",)),
    "missing-field-second-line": (INVOICE, _second_line_without_vat, "data.lines[1].vat_rate",
                                  ("required",)),
    "missing-data": (INVOICE, _delete("data"), "data", ("required",)),
    "negative-quantity": (INVOICE, _set("data.lines.0.quantity", "-1"), "data.lines[0].quantity",
                          ("greater than zero",)),
    "zero-quantity": (INVOICE, _set("data.lines.0.quantity", "0"), "data.lines[0].quantity",
                      ("greater than zero",)),
    "negative-price": (INVOICE, _set("data.lines.0.unit_price", "-4.20"), "data.lines[0].unit_price",
                       ("negative",)),
    "price-as-float": (INVOICE, _set("data.lines.0.unit_price", 4.2), "data.lines[0].unit_price",
                       ("decimal string",)),
    "price-as-integer": (INVOICE, _set("data.lines.0.unit_price", 4), "data.lines[0].unit_price",
                         ("decimal string",)),
    "price-not-a-number": (INVOICE, _set("data.lines.0.unit_price", "4,20"), "data.lines[0].unit_price",
                           ("decimal string",)),
    "vat-over-100": (INVOICE, _set("data.lines.0.vat_rate", "121"), "data.lines[0].vat_rate",
                     ("percentage",)),
    "gross-differs": (INVOICE, _set("data.totals.gross", "25.42"), "data.totals.gross",
                      ("25.41", "difference 0.01")),
    "net-differs": (INVOICE, _set("data.totals.net", "20.00"), "data.totals.net",
                    ("21.00", "difference -1.00")),
    "bill-totals-differ": (BILL, _set("data.totals", {"net": "119.35", "vat": "7.16", "gross": "126.50"}),
                           "data.totals.gross", ("126.51", "difference -0.01")),
    "bill-charge-as-float": (BILL, _set("data.charges.1.amount", 31.4), "data.charges[1].amount",
                             ("decimal string",)),
    "due-before-issue": (INVOICE, _set("data.due_date", "2026-11-19"), "data.due_date", ("issue_date",)),
    "appointment-over": (APPOINTMENT, _when(datetime(2020, 1, 6, 10), datetime(2020, 1, 6, 11)),
                         "data.end", ("past",)),
    "start-in-dst-gap": (APPOINTMENT, _when(SPRING_GAP, SPRING_GAP + timedelta(hours=1)), "data.start",
                         ("does not exist", "Europe/Brussels")),
    "end-in-dst-gap": (APPOINTMENT, _when(SPRING_GAP - timedelta(hours=1), SPRING_GAP), "data.end",
                       ("does not exist",)),
    "start-ambiguous": (APPOINTMENT, _when(AUTUMN_OVERLAP, AUTUMN_OVERLAP + timedelta(hours=1)),
                        "data.start", ("twice",)),
    "end-before-start": (APPOINTMENT, _when(datetime(2031, 5, 6, 10), datetime(2031, 5, 6, 9, 30)),
                         "data.end", ("after",)),
    "end-equals-start": (APPOINTMENT, _when(datetime(2031, 5, 6, 10), datetime(2031, 5, 6, 10)),
                         "data.end", ("after",)),
    "start-with-offset": (APPOINTMENT, _set("data.start", "2030-12-03T14:30:00+01:00"), "data.start", ()),
    "zone-not-iana": (APPOINTMENT, _set("data.timezone", "Mars/Olympus"), "data.timezone", ("IANA",)),
    "zone-as-offset": (APPOINTMENT, _set("data.timezone", "+01:00"), "data.timezone", ("IANA",)),
    "zone-as-city": (APPOINTMENT, _set("data.timezone", "Brussels"), "data.timezone", ("IANA",)),
    "zone-wrong-case": (APPOINTMENT, _set("data.timezone", "europe/brussels"), "data.timezone", ("IANA",)),
    "zone-windows-name": (APPOINTMENT, _set("data.timezone", "Romance Standard Time"), "data.timezone",
                          ("IANA",)),
    "photo-as-url": (APPOINTMENT, _set("data.advisor.photo", "http://127.0.0.1/me.jpg"),
                     "data.advisor.photo", ("data: URI",)),
    "photo-as-file": (APPOINTMENT, _set("data.advisor.photo", "file:///etc/passwd"),
                      "data.advisor.photo", ("data: URI",)),
}


@pytest.mark.parametrize(("fixture", "mutate", "path", "words"), INVALID.values(), ids=INVALID.keys())
def test_invalid_request_names_the_field(
    client: FlaskClient, nothing_stored: None, monkeypatch: pytest.MonkeyPatch,
    fixture: str, mutate: Mutation, path: str, words: tuple[str, ...],
) -> None:
    # Nothing may be fetched to find out, either.
    opened: list[Any] = []
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", lambda *args, **kw: opened.append(args))
    document = load_fixture(fixture)
    mutate(document)
    problem = assert_problem(client.post("/v1/render", json=document), 422)
    assert [error["path"] for error in problem["errors"]] == [path], problem
    message = problem["errors"][0]["message"]
    for word in words:
        assert word in message
    assert path in problem["detail"]
    assert opened == []


def test_every_bad_field_is_named_at_once(client: FlaskClient, nothing_stored: None) -> None:
    # Wrong brand and locale are named with the schema's errors, not in a second round.
    document = load_fixture(INVOICE)
    document["brand"] = "demo-tea"
    document["locale"] = "es"
    document["data"]["lines"][0]["unit_price"] = 4.2
    del document["data"]["seller"]["name"]
    problem = assert_problem(client.post("/v1/render", json=document), 422)
    paths = sorted(error["path"] for error in problem["errors"])
    assert paths == ["brand", "data.lines[0].unit_price", "data.seller.name", "locale"]


def test_a_wrong_channel_is_named_with_the_schemas_errors(client: FlaskClient, nothing_stored: None) -> None:
    document = load_fixture(INVOICE)
    document["channels"] = ["email", "ics", "fax"]
    document["data"]["lines"][0]["unit_price"] = 4.2
    problem = assert_problem(client.post("/v1/render", json=document), 422)
    messages = {error["path"]: error["message"] for error in problem["errors"]}
    assert sorted(messages) == ["channels[1]", "channels[2]", "data.lines[0].unit_price"]
    assert "not a channel of invoice" in messages["channels[1]"]


@pytest.mark.parametrize("body", ["[]", '"invoice"', "42", "null"],
                         ids=["array", "string", "number", "null"])
def test_body_that_is_not_an_object_is_422(client: FlaskClient, nothing_stored: None, body: str) -> None:
    problem = assert_problem(client.post("/v1/render", data=body, content_type="application/json"), 422)
    assert [error["path"] for error in problem["errors"]] == ["(body)"]


# --- what a request says comes out as text, never as markup ------------------------------------

def _with_xss(fixture: str) -> dict[str, Any]:
    document = load_fixture(fixture)
    document["reference"] = XSS
    document["recipient"]["name"]["given"] = XSS
    data = document["data"]
    if fixture == APPOINTMENT:
        data["title"] = XSS
        data["advisor"]["name"] = XSS
        data["advisor"]["role"] = XSS
        data["prepare"] = [XSS, f"{XSS} 2"]
        data["location"] = {"name": XSS, "address": XSS}
    else:
        for party in ("seller", "buyer"):
            data[party]["name"] = XSS
            data[party]["address"] = XSS
        for item in data.get("lines", data.get("charges", [])):
            item["description"] = XSS
    return document


def _html_outputs(client: FlaskClient, answer: dict[str, Any]) -> dict[str, str]:
    message = f"/v1/messages/{answer['id']}"
    eml = email.message_from_bytes(get(client, f"{message}/email.eml").data, policy=policy.default)
    html_part = eml.get_body(("html",))
    assert html_part is not None
    web = get(client, answer["outputs"]["web"]["url"].removeprefix(PUBLIC_BASE_URL))
    assert web.status_code == 200
    return {
        "answer email html": answer["outputs"]["email"]["html"],
        "email.html": get(client, f"{message}/email.html").get_data(as_text=True),
        "page.html": get(client, f"{message}/page.html").get_data(as_text=True),
        "eml html part": html_part.get_content(),
        "/m/ page": web.get_data(as_text=True),
    }


@pytest.mark.parametrize("fixture", [APPOINTMENT, INVOICE, BILL])
def test_markup_in_text_fields_comes_out_escaped(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, fixture: str,
) -> None:
    opened: list[Any] = []
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", lambda *args, **kw: opened.append(args))
    response = client.post("/v1/render", json=_with_xss(fixture))
    assert response.status_code == 201, response.get_data(as_text=True)
    answer = response.json
    assert answer is not None
    assert answer["reference"] == XSS  # echoed as the data it is, in JSON
    for name, html in _html_outputs(client, answer).items():
        # Gmail's JSON-LD (an appointment's email) is the one script allowed: data, whose `<`
        # is written \u003c, so no text in it can close the element.
        blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, flags=re.S)
        assert all("<" not in block and XSS not in block for block in blocks), name
        html = re.sub(r'<script type="application/ld\+json">.*?</script>', "", html, flags=re.S)
        assert "<script" not in html.lower(), name
        assert "<img src=x" not in html, name
        assert "onerror=alert(2)>" not in html, name
        assert "&lt;script&gt;" in html, name
    pdf = get(client, f"/v1/messages/{answer['id']}/document.pdf")
    assert pdf.data.startswith(b"%PDF-")
    # The PDF was drawn without reading anything a request named.
    assert opened == []
    assert not [r for r in caplog.records if "refused to fetch" in r.getMessage()]


# --- the PDF fetches nothing it was not made to ------------------------------------------------

REFUSED = [
    "file:///etc/passwd",
    "http://127.0.0.1/x",
    "https://127.0.0.1:5432/x.png",
    "http://169.254.169.254/latest/meta-data/",
    "https://example.com/logo.png",
    f"{PUBLIC_BASE_URL}/v1/messages/msg_x/email.html",
    f"{PUBLIC_BASE_URL}/assets/../../../etc/passwd",
    f"{PUBLIC_BASE_URL}/assets/{'0' * 64}.png",  # the shape of an asset, but none is stored
    f"{PUBLIC_BASE_URL}.evil.example/assets/{'a' * 64}.png",
    "ftp://127.0.0.1/x",
]


@pytest.fixture
def fetcher(tmp_path: Path) -> OwnAssetsFetcher:
    return OwnAssetsFetcher(ArtifactStore(tmp_path / "artifacts"), PUBLIC_BASE_URL)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every URL anything tried to open through urllib (which WeasyPrint's fetcher uses)."""
    calls: list[str] = []

    def record(self: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(url, "full_url", url))
        raise AssertionError(f"opened {url}")

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", record)
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, *a, **kw: record(None, url))
    return calls


@pytest.mark.parametrize("url", REFUSED)
def test_fetcher_refuses_other_urls(fetcher: OwnAssetsFetcher, opened: list[str],
                                    caplog: pytest.LogCaptureFixture, url: str) -> None:
    with caplog.at_level(logging.WARNING, logger="app.channels.layout"), pytest.raises(FetchRefused):
        fetcher.fetch(url)
    assert opened == []
    assert [r.getMessage() for r in caplog.records] == [f"refused to fetch {url}"]


def test_fetcher_serves_its_own_assets(fetcher: OwnAssetsFetcher, opened: list[str]) -> None:
    png = b"\x89PNG\r\n\x1a\nnot really"
    digest = fetcher.assets.put_asset(png, "png")
    response = fetcher.fetch(f"{PUBLIC_BASE_URL}/assets/{digest}.png")
    assert response.read() == png
    assert opened == []


def test_pdf_renders_without_fetching(fetcher: OwnAssetsFetcher, opened: list[str],
                                      caplog: pytest.LogCaptureFixture) -> None:
    html = """<!doctype html><html><head>
    <link rel="stylesheet" href="http://127.0.0.1/x.css">
    <link rel="stylesheet" href="file:///etc/passwd">
    <style>@import url("http://127.0.0.1/import.css");
    body { background: url("file:///etc/hostname"); }</style></head>
    <body><h1>Hello</h1>
    <img src="file:///etc/passwd" alt="a"><img src="http://127.0.0.1/x" alt="b">
    <img src="/etc/shadow" alt="c"><object data="http://169.254.169.254/"></object>
    <iframe src="file:///etc/passwd"></iframe></body></html>"""
    with caplog.at_level(logging.WARNING, logger="app.channels.layout"):
        pdf, pages = render_document(html, fetcher)
    assert pdf.startswith(b"%PDF-")
    assert pages == 1
    assert opened == []
    refused = {r.getMessage().removeprefix("refused to fetch ") for r in caplog.records
               if r.name == "app.channels.layout"}
    assert {"http://127.0.0.1/x.css", "file:///etc/passwd", "http://127.0.0.1/import.css",
            "http://127.0.0.1/x", f"{PUBLIC_BASE_URL}/etc/shadow"} <= refused
    assert b"root:" not in pdf


# --- 404 and the customer pages ----------------------------------------------------------------

@pytest.fixture
def web_message(client: FlaskClient) -> dict[str, Any]:
    response = client.post("/v1/render", json=load_fixture(INVOICE) | {"channels": ["web", "sms"]})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json is not None
    return response.json


def test_unknown_message_is_404(client: FlaskClient) -> None:
    assert_problem(client.get("/v1/messages/msg_00000000000000000000000000"), 404)


@pytest.mark.parametrize("name", ["email.html", "document.pdf", "invite.ics", "secret.txt", "..%2Fpage.html"])
def test_missing_artifact_is_404(client: FlaskClient, web_message: dict[str, Any], name: str) -> None:
    # The message has a page.html but no email, PDF or invite (and an invoice never has one).
    assert get(client, f"/v1/messages/{web_message['id']}/page.html").status_code == 200
    assert_problem(client.get(f"/v1/messages/{web_message['id']}/{name}"), 404)
    assert_problem(client.get(f"/v1/messages/msg_00000000000000000000000000/{name}"), 404)


def _web_path(message: dict[str, Any]) -> str:
    return str(message["outputs"]["web"]["url"]).removeprefix(PUBLIC_BASE_URL)


TAMPER: dict[str, Callable[[str], str]] = {
    # The signature's first character: all six of its bits count. (Its last character holds
    # padding bits, so changing it can leave the signature the same and the token valid.)
    "signature-char": lambda token: (
        token[: token.rfind(".") + 1]
        + ("g" if token[token.rfind(".") + 1] != "g" else "A")
        + token[token.rfind(".") + 2:]
    ),
    "first-char": lambda token: ("x" if token[0] != "x" else "y") + token[1:],
    "truncated": lambda token: token[: len(token) // 2],
    "signature-dropped": lambda token: token.rsplit(".", 1)[0],
    "garbage": lambda token: "not-a-token",
}


@pytest.mark.parametrize("suffix", ["", "/document.pdf"])
@pytest.mark.parametrize("tamper", TAMPER.values(), ids=TAMPER.keys())
def test_tampered_link_is_a_404_page(client: FlaskClient, web_message: dict[str, Any],
                                     tamper: Callable[[str], str], suffix: str) -> None:
    prefix, token = _web_path(web_message).rsplit("/", 1)
    response = client.get(f"{prefix}/{tamper(token)}{suffix}")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert page.lower().startswith("<!doctype html>")
    assert "does not work" in page
    assert web_message["id"] not in page


@pytest.mark.parametrize("suffix", ["/", "/page.html", "/document.pdf/x", "//"])
def test_damaged_link_path_is_a_404_page(client: FlaskClient, web_message: dict[str, Any],
                                        suffix: str) -> None:
    response = client.get(_web_path(web_message) + suffix)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "does not work" in response.get_data(as_text=True)


def test_unknown_api_path_is_still_a_problem(client: FlaskClient) -> None:
    assert_problem(client.get("/v1/nothing-here"), 404)


@pytest.mark.parametrize("suffix", ["", "/document.pdf"])
def test_expired_link_is_a_410_page_that_says_what_to_do(
    client: FlaskClient, web_message: dict[str, Any], suffix: str,
) -> None:
    path = _web_path(web_message)
    assert get(client, path).status_code == 200
    client.application.config["WEB_LINK_MAX_AGE"] = -1  # every link is now older than allowed
    response = client.get(path + suffix)
    assert response.status_code == 410
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "expired" in page
    # What to do instead: open the newest message, or ask.
    assert "most recent message" in page
    assert "contact us" in page
