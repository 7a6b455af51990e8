"""The workbench's commands: `flask --app app lint` and `flask --app app snapshots`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.config import FACTORY, ROOT
from app.workbench.scratch import scratch_app


@click.command("lint")
@click.option("--no-render", is_flag=True,
              help="Skip rendering the fixtures (only the sources, brands and translations).")
@with_appcontext
def lint_command(no_render: bool) -> None:
    """Check every component, template, brand, translation and fixture; name file and line.

    Exit status 1 when there is an error that lint-allow.txt does not list."""
    # Lint (80 ms of imports) loads when it runs, not in every process that registers it.
    from app.workbench.lint import Linter, is_allowed, load_allowed

    # In a scratch app: an empty archive and fresh assets, so local data changes nothing.
    with scratch_app(current_app.config, current_app.extensions[FACTORY]) as app:
        findings = Linter(app).run(render=not no_render)
    allowed = load_allowed()
    errors = warnings = known = 0
    for finding in findings:
        if finding.severity == "error" and is_allowed(finding, allowed):
            known += 1
            click.echo(f"{finding} [allowed: lint-allow.txt]")
            continue
        click.echo(str(finding))
        errors += finding.severity == "error"
        warnings += finding.severity == "warning"
    summary = f"lint: {errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    if known:
        summary += f", {known} known error{'s' * (known != 1)} allowed by lint-allow.txt"
    click.echo(summary)
    if errors:
        raise SystemExit(1)


@click.command("snapshots")
@click.option("--approve", is_flag=True, help="Accept the current pictures as the approved ones.")
@click.option("--only", "pattern", default="*", show_default=True,
              help="Only fixtures whose name matches this pattern, e.g. 'invoice/*'.")
@click.option("--approved", "approved_dir", type=click.Path(file_okay=False, path_type=Path),
              default=ROOT / "tests" / "snapshots", show_default=True,
              help="Folder of the approved pictures.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=ROOT / "var" / "snapshots", show_default=True,
              help="Folder for the report (report.html) and its pictures.")
@with_appcontext
def snapshots_command(approve: bool, pattern: str, approved_dir: Path, out_dir: Path) -> None:
    """Render every fixture's email (375 px, 600 px), web page (320 px) and PDF's first page
    to PNG and compare them with the approved pictures; write a report of what changed."""
    # Snapshots load when they run, not in every process that registers the command.
    from app.workbench.snapshots import run_snapshots

    report = run_snapshots(current_app.config, current_app.extensions[FACTORY], pattern=pattern,
                           approved_dir=approved_dir, out_dir=out_dir, approve=approve, echo=click.echo)
    if report.changed and not approve:
        click.echo(f"{len(report.changed)} picture(s) differ from the approved ones: see "
                   f"{report.report_path}\nIf the change is intended: flask --app app snapshots "
                   "--approve", err=True)
        raise SystemExit(1)
