"""GET /v1/customers/{customer_id}/messages: newest first, a page at a time, with actions taken."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app.store import customers
from tests.conftest import load_fixture


def render(client: FlaskClient, customer_id: str, fixture: str = "invoice/cross-sell-arpeggia-en",
           reference: str | None = None) -> dict[str, Any]:
    request = load_fixture(fixture)
    request["recipient"]["customer_id"] = customer_id
    request["channels"] = ["sms"]
    if reference:
        request["reference"] = reference
    response = client.post("/v1/render", json=request)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


def test_newest_first_a_page_at_a_time(any_app: Flask) -> None:
    client = any_app.test_client()
    made = [render(client, "c-7001", reference=f"order {n}")["id"] for n in range(5)]
    render(client, "c-someone-else")

    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/customers/c-7001/messages", query_string=query)
        assert response.status_code == 200
        body = response.json
        assert body["customer_id"] == "c-7001"
        assert len(body["items"]) <= 2
        seen += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            assert "Link" not in response.headers
            break
        assert response.headers["Link"].endswith('>; rel="next"')
    assert pages == 3
    assert [item["id"] for item in seen] == made[::-1]
    first = seen[-1]
    assert first["type"] == "invoice" and first["reference"] == "order 0"
    assert first["channels"] == ["sms", "web"] and first["brand"] == "demo-coffee"  # the SMS and its page
    assert first["created"].endswith("+00:00")
    assert first["actions"] == []


def test_the_actions_taken_are_listed_oldest_first(any_app: Flask) -> None:
    client = any_app.test_client()
    message_id = render(client, "c-7002")["id"]
    with any_app.test_request_context():
        # What other parts of the service record (a reschedule, a paid link opened) is listed too.
        customers.record_event(message_id, "offer_clicked", {"offer": "lavanti"})
        customers.record_event(message_id, "paid_link_opened")
    [item] = client.get("/v1/customers/c-7002/messages").json["items"]
    assert [(a["kind"], a["detail"]) for a in item["actions"]] == [
        ("offer_clicked", {"offer": "lavanti"}), ("paid_link_opened", None)]
    assert all(a["at"] for a in item["actions"])


def test_an_unknown_customer_has_an_empty_archive(client: FlaskClient) -> None:
    response = client.get("/v1/customers/c-nobody/messages")
    assert response.status_code == 200
    assert response.json == {"customer_id": "c-nobody", "items": [], "next_cursor": None}


def test_bad_limit_and_cursor_are_422(client: FlaskClient) -> None:
    for limit in ("0", "101", "-1", "ten", "2.5"):
        response = client.get("/v1/customers/c-1/messages", query_string={"limit": limit})
        assert response.status_code == 422
        assert response.json["errors"][0]["path"] == "limit"
    for cursor in ("not-a-cursor", "W10", "eyJhIjoxfQ"):
        response = client.get("/v1/customers/c-1/messages", query_string={"cursor": cursor})
        assert response.status_code == 422, cursor
        assert response.json["errors"][0]["path"] == "cursor"
