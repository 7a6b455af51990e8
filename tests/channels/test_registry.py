"""The channels' registry (app/channels): each channel declares itself, and a new channel is one
new module, with no list elsewhere to edit."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.channels import CHANNELS, channel_errors, channels_of, selected
from app.config import ROOT

# The contract's table of message types and their channels, in its order.
CONTRACT = {
    "appointment": ("email", "web", "pdf", "ics", "sms"),
    "invoice": ("email", "web", "pdf", "sms"),
    "bill": ("email", "web", "pdf", "sms"),
}


def test_the_declarations_give_the_contracts_table() -> None:
    assert {kind: channels_of(kind) for kind in CONTRACT} == CONTRACT


def test_the_email_runs_last_to_attach_what_the_others_made() -> None:
    assert list(CHANNELS)[-1] == "email"
    assert list(CHANNELS).index("pdf") < list(CHANNELS).index("email")
    assert list(CHANNELS).index("ics") < list(CHANNELS).index("email")


@pytest.mark.parametrize(("kind", "asked", "rendered"), [
    ("invoice", None, ["email", "web", "pdf", "sms"]),
    ("invoice", ["pdf", "email"], ["email", "pdf"]),
    # An SMS has room only for a link: the page it links comes with it.
    ("bill", ["sms"], ["web", "sms"]),
    ("appointment", ["sms", "ics"], ["web", "ics", "sms"]),
])
def test_selected_channels(kind: str, asked: list[str] | None, rendered: list[str]) -> None:
    assert selected(kind, asked) == rendered


def test_errors_name_each_wrong_channel() -> None:
    errors = channel_errors("invoice", ["email", "ics", "fax", "email"])
    assert [(error.path, error.message) for error in errors] == [
        ("channels[1]", "'ics' is not a channel of invoice (channels: email, web, pdf, sms)"),
        ("channels[2]", "'fax' is not a channel (channels: email, web, pdf, sms)"),
        ("channels", "names a channel twice"),
    ]
    assert channel_errors(None, ["ics", "sms"]) == []
    assert channel_errors("invoice", None) == []


# Run in a copy of app/ with one more module in app/channels, and nothing else changed.
PROBE = """
import json
from app.channels import CHANNELS, channel_errors, channels_of, selected
from app.http.openapi import _contract

schemas = _contract()["components"]["schemas"]
enum = lambda model: next(o for o in schemas[model]["properties"]["channels"]["anyOf"]
                          if o.get("type") == "array")["items"]["enum"]
print(json.dumps({
    "invoice": channels_of("invoice"), "appointment": channels_of("appointment"),
    "runs": list(CHANNELS), "selected": selected("invoice", ["fax"]),
    "errors": [e.path for e in channel_errors("invoice", ["fax"])],
    "openapi_invoice": enum("InvoiceRequest"), "openapi_appointment": enum("AppointmentRequest"),
}))
"""


def _copy_with(tmp_path: Path, module: str) -> Path:
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "app" / "channels" / "fax.py").write_text(textwrap.dedent(module))
    return tmp_path


def _probe(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", PROBE], cwd=root, capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)})


def test_a_new_channel_is_one_new_module(tmp_path: Path) -> None:
    root = _copy_with(tmp_path, '''
        """Fax: a test channel, for invoices and bills."""
        from app.channels.base import Channel, ChannelOutput

        def render(message, enriched, done):
            return ChannelOutput({"pages": 1})

        CHANNEL = Channel("fax", types=("invoice", "bill"), position=6, order=50, render=render,
                          needs=("pdf",))
    ''')
    run = _probe(root)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["invoice"] == ["email", "web", "pdf", "sms", "fax"]
    assert seen["appointment"] == list(CONTRACT["appointment"])
    assert seen["runs"][-2:] == ["fax", "email"]
    assert seen["selected"] == ["pdf", "fax"]
    assert seen["errors"] == []
    assert seen["openapi_invoice"] == ["email", "web", "pdf", "sms", "fax"]
    assert seen["openapi_appointment"] == list(CONTRACT["appointment"])


def test_a_declaration_with_an_unknown_type_stops_the_import(tmp_path: Path) -> None:
    root = _copy_with(tmp_path, '''
        from app.channels.base import Channel, ChannelOutput

        CHANNEL = Channel("fax", types=("quote",), position=6, order=50,
                          render=lambda message, enriched, done: ChannelOutput({}))
    ''')
    run = _probe(root)
    assert run.returncode != 0
    assert "channel fax serves unknown message types ['quote']" in run.stderr


def test_finding_the_channels_loads_no_weasyprint() -> None:
    """Only modules that declare a channel are imported: WeasyPrint (layout.py) comes with the
    first PDF, not with every process that loads the channels."""
    probe = "import sys, app.channels; print('weasyprint' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True)
    assert run.stdout.strip() == "False"
