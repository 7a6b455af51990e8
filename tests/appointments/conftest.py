"""Fixtures of the appointment tests: `app` compiles its templates once per run."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.appointments.helpers import share_templates


@pytest.fixture
def app(app: Flask) -> Flask:
    """The root `app`, with the templates an earlier test compiled (MJML is the slow part)."""
    return share_templates(app)
