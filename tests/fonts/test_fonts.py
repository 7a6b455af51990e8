"""The one type family (app/fonts): served by the service, drawn on the web page from there,
named first in the email. (The PDF embeds it: tests/pipeline/test_fixtures.py, every fixture.)"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from fontTools.ttLib import TTFont
from playwright.sync_api import Page

from app import fonts
from tests.conftest import load_fixture


@pytest.mark.parametrize("name", fonts.FACES.values())
def test_the_service_serves_each_face(client: FlaskClient, name: str) -> None:
    with client.get(f"/assets/fonts/{name}") as response:
        assert response.status_code == 200
        assert response.mimetype == "font/ttf"
        assert "public" in response.headers["Cache-Control"]
        assert response.data == (fonts.FOLDER / name).read_bytes()
        assert TTFont(fonts.FOLDER / name)["name"].getDebugName(1) == fonts.FAMILY


@pytest.mark.parametrize("name", ["OFL.txt", "README.md", "__init__.py", "..%2F__init__.py",
                                  "LiberationSans-Italic.ttf"])
def test_nothing_else_of_the_folder_is_served(client: FlaskClient, name: str) -> None:
    assert client.get(f"/assets/fonts/{name}").status_code == 404


# Every element with text of its own, and the fonts Chromium drew that text with.
_TEXT_NODES = "h1, h2, p, th, td, dt, dd, strong, a, li, figcaption"


@pytest.mark.browser
@pytest.mark.parametrize("fixture", ["invoice/capsules-nl", "bill/gas-fr", "appointment/cancelled-de"])
def test_the_web_page_draws_its_text_with_the_served_family(
    fixture: str, live: tuple[Flask, str], phone: Page
) -> None:
    app, _ = live
    answer = app.test_client().post("/v1/render", json=load_fixture(fixture))
    assert answer.status_code == 201, answer.json
    fetched: list[str] = []
    phone.on("requestfinished", lambda request: fetched.append(request.url))
    phone.goto(answer.json["outputs"]["web"]["url"], wait_until="load")
    phone.evaluate("document.fonts.ready")
    assert {url.rsplit("/", 1)[-1] for url in fetched if fonts.URL_PATH in url} == set(fonts.FACES.values())
    session = phone.context.new_cdp_session(phone)
    session.send("DOM.enable")
    session.send("CSS.enable")
    root = session.send("DOM.getDocument")["root"]["nodeId"]
    nodes = session.send("DOM.querySelectorAll", {"nodeId": root, "selector": _TEXT_NODES})["nodeIds"]
    used = [font for node in nodes
            for font in session.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]]
    session.detach()
    # A web font ("custom"): the machine's own Liberation Sans, or another font, would not be.
    drawn = {(font["familyName"], font["isCustomFont"]) for font in used}
    assert drawn == {(fonts.FAMILY, True)}, drawn
    assert {font["postScriptName"] for font in used} == {"LiberationSans", "LiberationSans-Bold"}


def test_the_email_names_the_family_then_fonts_with_its_metrics(client: FlaskClient) -> None:
    answer = client.post("/v1/render", json=load_fixture("invoice/capsules-nl") | {"channels": ["email"]})
    assert answer.status_code == 201, answer.json
    html = answer.json["outputs"]["email"]["html"]
    stacks = {stack.strip() for stack in re.findall(r"font-family:\s*([^;\"}]+)", html)}
    assert stacks == {"'Liberation Sans', Arimo, Arial, Helvetica, sans-serif"}, stacks
    # A mail client loads no web font: the email never asks for one.
    assert "@font-face" not in html and fonts.URL_PATH not in html
