"""`flask --app app render FIXTURE --out DIR` writes every artifact of a fixture."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

from flask.testing import FlaskCliRunner


def test_render_writes_every_artifact(runner: FlaskCliRunner, tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    result = runner.invoke(args=["render", "appointment/confirmation-nl", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = {path.name for path in tmp_path.iterdir()}
    assert names == {"email.html", "email.txt", "email.eml", "page.html", "document.pdf",
                     "invite.ics", "message.json"}
    assert (tmp_path / "document.pdf").read_bytes().startswith(b"%PDF-")
    assert b"BEGIN:VCALENDAR" in (tmp_path / "invite.ics").read_bytes()
    mail = email.message_from_bytes((tmp_path / "email.eml").read_bytes(), policy=email.policy.default)
    answer = json.loads((tmp_path / "message.json").read_text())
    assert mail["Subject"] == answer["outputs"]["email"]["subject"]


def test_render_by_bare_name_and_unknown_fixture(runner: FlaskCliRunner, tmp_path: Path) -> None:
    assert runner.invoke(args=["render", "capsules-nl", "--out", str(tmp_path / "a")]).exit_code == 0
    missing = runner.invoke(args=["render", "no-such-fixture", "--out", str(tmp_path / "x")])
    assert missing.exit_code != 0 and "no fixture 'no-such-fixture'" in missing.output


def test_render_reports_a_bad_fixture_as_a_problem(runner: FlaskCliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "invoice", "brand": "nope"}))
    result = runner.invoke(args=["render", str(bad), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    # The problem document, naming every bad field at once: the missing data and the brand.
    problem = json.loads(result.output.split("Error: ", 1)[1])
    assert problem["status"] == 422
    errors = {error["path"]: error["message"] for error in problem["errors"]}
    assert errors.keys() == {"data", "brand"}
    assert errors["data"] == "is required" and errors["brand"].startswith("unknown brand 'nope'")
    assert not (tmp_path / "out").exists()
