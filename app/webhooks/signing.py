"""Standard Webhooks signatures: `webhook-id`, `webhook-timestamp`, `webhook-signature`.

Signed with `standardwebhooks`, the reference implementation by the specification's
authors, so what upstream verifies with the same library (or by hand, as tests/ does) is
exactly what we meant. The key is `WEBHOOK_SECRET` (`whsec_` + base64); without one, a key
is made once and kept in `var/webhook_secret`, for upstream to be given.
"""

from __future__ import annotations

import base64
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from standardwebhooks.webhooks import Webhook

from app.config import ROOT


def secret() -> str:
    configured = current_app.config.get("WEBHOOK_SECRET")
    if configured:
        return str(configured)
    var_dir = Path(os.environ.get("TOUCHPOINT_VAR_DIR", ROOT / "var"))
    path = var_dir / "webhook_secret"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    made = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    path.write_text(made)
    path.chmod(0o600)
    current_app.config["WEBHOOK_SECRET"] = made
    return made


def headers(webhook_id: str, payload: str, at: datetime) -> dict[str, str]:
    """The three headers for one attempt: the id stays, the timestamp is the attempt's."""
    at = at.astimezone(UTC)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret()).sign(webhook_id, at, payload),
    }
