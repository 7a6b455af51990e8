"""Commands for people at a terminal: `flask --app app render FIXTURE --out DIR`, and
`flask --app app render-batch FILE.ndjson --out DIR` (app/jobs/batch.py)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.channels import eml
from app.jobs.batch import render_batch_command
from app.pipeline import commit, render_message
from app.problems import Problem
from app.store import archive, session
from app.workbench.commands import lint_command, snapshots_command


def resolve_fixture(name: str) -> Path:
    """A fixture by path, by `type/name`, or by bare name."""
    path = Path(name)
    if path.is_file():
        return path
    root = Path(current_app.config["FIXTURES_DIR"])
    for candidate in (root / name, root / f"{name}.json", *root.glob(f"*/{name}.json")):
        if candidate.is_file():
            return candidate
    raise click.BadParameter(f"no fixture '{name}' (looked under {root})", param_hint="FIXTURE")


@click.command("render")
@with_appcontext
@click.argument("fixture")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write every artifact into.")
def render_command(fixture: str, out_dir: Path) -> None:
    """Render FIXTURE (a path, `type/name` or a name) and write every artifact to --out."""
    document = json.loads(resolve_fixture(fixture).read_text(encoding="utf-8"))
    try:
        answer = commit(render_message(document))
    except Problem as problem:
        raise click.ClickException(json.dumps(problem.as_dict(), indent=2)) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    message = archive.get_message(answer["id"])
    assert message is not None
    eml.ensure_eml(message)
    session().refresh(message)
    for artifact in message.artifacts:
        (out_dir / artifact.name).write_bytes(archive.artifact_bytes(artifact))
        click.echo(f"{out_dir / artifact.name}  ({artifact.size} bytes)")
    (out_dir / "message.json").write_text(json.dumps(answer, indent=2, ensure_ascii=False))
    click.echo(f"{out_dir / 'message.json'}  ({answer['id']})")
    for warning in answer["warnings"]:
        click.echo(f"warning: {warning}", err=True)


def init_app(app: Flask) -> None:
    app.cli.add_command(render_command)
    # Many requests at once, with a progress bar: `flask render-batch FILE.ndjson --out DIR`.
    app.cli.add_command(render_batch_command)
    # The designers' and QA workbench (app/workbench): lint and visual regression.
    app.cli.add_command(lint_command)
    app.cli.add_command(snapshots_command)
