"""Fixtures of the channel tests in Chromium (test_browser, test_design): each fixture
rendered once per module on the module's live server, and where its email is fetched."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.conftest import load_fixture

Answer = dict[str, Any]
AnswerOf = Callable[[str], Answer]


@pytest.fixture(scope="module")
def rendered(live: tuple[Flask, str]) -> dict[str, Answer]:
    """Answers of POST /v1/render by fixture name, each fixture rendered once per module."""
    return {}


@pytest.fixture
def answer_of(live: tuple[Flask, str], rendered: dict[str, Answer]) -> AnswerOf:
    """The answer for a fixture name, rendered on the live server the first time it is asked for."""

    def answer(name: str) -> Answer:
        if name not in rendered:
            response = live[0].test_client().post("/v1/render", json=load_fixture(name))
            assert response.status_code == 201, response.json
            rendered[name] = response.json
        return rendered[name]

    return answer


def email_url(live: tuple[Flask, str], answer: Answer) -> str:
    """The email's HTML as the API serves it (`email.html`, with the app's key)."""
    return f"{live[1]}/v1/messages/{answer['id']}/email.html"
