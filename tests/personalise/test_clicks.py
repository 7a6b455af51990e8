"""`/c/<token>`: tracked offer links record the click on the message, then go where the catalogue says."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner

from app.personalise.links import PURPOSE
from tests.conftest import PUBLIC_BASE_URL, load_fixture


def rendered(client: FlaskClient) -> dict[str, Any]:
    request = {**load_fixture("invoice/cross-sell-arpeggia-en"), "channels": ["email", "web"]}
    response = client.post("/v1/render", json=request)
    assert response.status_code == 201
    return response.json


def click_links(answer: dict[str, Any]) -> dict[str, str]:
    """Each block's tracked link, by the block's title in the email."""
    html = answer["outputs"]["email"]["html"]
    links = re.findall(rf'href="{re.escape(PUBLIC_BASE_URL)}(/c/[^"]+)"[^>]*>\s*Discover (\w+)', html)
    return {name.lower(): path for path, name in links}


def actions(client: FlaskClient) -> list[tuple[str, str]]:
    """Each click in the archive, with the offer its detail names."""
    [item] = client.get("/v1/customers/c-5101/messages").json["items"]
    return [(action["kind"], action["detail"]["offer"]) for action in item["actions"]]


def test_a_click_is_recorded_and_redirects_to_the_catalogues_url(client: FlaskClient) -> None:
    links = click_links(rendered(client))
    assert set(links) == {"lavanti", "restritto"}
    response = client.get(links["lavanti"])
    assert response.status_code == 302
    assert response.headers["Location"] == "https://coffee.example/capsules/lavanti"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    client.get(links["restritto"])
    client.get(links["lavanti"])
    assert actions(client) == [("offer_clicked", "lavanti"), ("offer_clicked", "restritto"),
                               ("offer_clicked", "lavanti")]


def test_the_web_page_links_the_same_tracked_urls(client: FlaskClient) -> None:
    answer = rendered(client)
    with client.get(answer["outputs"]["web"]["url"].removeprefix(PUBLIC_BASE_URL)) as response:
        page = response.get_data(as_text=True)
    assert set(click_links(answer).values()) <= {href.removeprefix(PUBLIC_BASE_URL)
                                                 for href in re.findall(r'href="([^"]+)"', page)}


def test_a_head_request_does_not_count_as_a_click(client: FlaskClient) -> None:
    links = click_links(rendered(client))
    assert client.head(links["lavanti"]).status_code == 302
    assert actions(client) == []


def test_a_tampered_or_forged_link_is_a_404_page_never_a_redirect(app: Flask, client: FlaskClient) -> None:
    links = click_links(rendered(client))
    token = links["lavanti"].removeprefix("/c/")
    tampered = client.get(f"/c/{token[:-3]}abc")
    assert tampered.status_code == 404 and tampered.mimetype == "text/html"
    assert "Location" not in tampered.headers
    # Signed with another key: refused all the same.
    forged = TimestampSigner("not-our-key", salt=f"touchpoint.{PURPOSE}").sign("msg_x~lavanti").decode()
    assert client.get(f"/c/{forged}").status_code == 404
    # A redirect target in the query is ignored: the catalogue alone says where a link leads.
    response = client.get(links["lavanti"] + "?url=https://evil.example&next=//evil.example")
    assert response.headers["Location"] == "https://coffee.example/capsules/lavanti"
    assert actions(client) == [("offer_clicked", "lavanti")]


def test_an_expired_link_is_a_410_page(app: Flask, client: FlaskClient) -> None:
    links = click_links(rendered(client))
    app.config["WEB_LINK_MAX_AGE"] = -1
    response = client.get(links["lavanti"])
    assert response.status_code == 410 and response.mimetype == "text/html"
    assert actions(client) == []


def test_an_offer_removed_since_leads_to_the_brand_and_an_erased_message_nowhere(
    app: Flask, client: FlaskClient
) -> None:
    links = click_links(rendered(client))
    with app.app_context():
        brand = app.extensions["touchpoint.brands"].get("demo-coffee")
        del brand.offers.by_id["lavanti"]  # as if the business removed it from offers.json
    response = client.get(links["lavanti"])
    assert response.status_code == 302
    assert response.headers["Location"] == "https://coffee.example"
    assert client.delete("/v1/profiles/c-5101").status_code == 200
    assert client.get(links["restritto"]).status_code == 404
