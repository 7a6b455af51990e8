"""`python -m bench.instructions [--type TYPE] [--fixture NAME] [--case CASE] [--pdfs N] [--renders N]`:
the same ratios as `python -m bench`, counted in instructions instead of timed.

This machine's speed moves by half from one run to the next and within a run (other machines
share its cores), and a ratio of two timings taken seconds apart moves with it. An instruction
count does not: valgrind's callgrind counts every instruction a process executes, the same from
run to run, at about fifty times the time. Each case of a fixture is counted in two child
processes under callgrind, side by side: one warms up and makes N calls, the other only warms
up; the difference, over N, is a call's (start-up, warm-up and shut-down cancel out). Zeroing
the counters of one process from outside (`callgrind_control`) was tried first: on a loaded
machine the zero came late, and counts fell short. Cases, beside their floors:
- pdf / lean: `layout.lay_out` (what the sandbox's child runs) and the lean reference of the same
  message (bench/lean/), as `bench/pdf_cpu.py` times them; goal pdf/lean <= 1.2;
- email / jinja: an email-only `commit(render_message(...))` through the app, and the email's
  compiled Jinja template rendered alone (the floor of `python -m bench`);
- request: the same email-only render as an upstream system sends it, `POST /v1/render` with
  a render key, through the app's whole WSGI stack (key check, rate limit, body checks, the
  JSON answer, the request's log line) by Flask's test client in the same process. What it
  adds to `email` is the HTTP layer's own cost per render, which `python -m bench.load`
  times behind gunicorn (the test client's building of the request is counted too; the
  server's parsing of the socket is not).

Only the main thread is counted, where the case runs. The other thread a child may have is the
SQLite checkpoint thread (app/store/checkpoints.py), which copies the database's log into its
file beside the requests, on a timer: under valgrind, fifty times slower, its timer fires
fifty times as often per render as at full speed, and its count would say so.

Instructions are not time: a cache miss or a system call costs more than its count says, and
the database's own waits are not counted. They are what a change to our code changes, measured
without the noise; use them to compare code, and `python -m bench` for milliseconds.
`--case` (repeatable) counts only the cases named. Needs valgrind (`apt-get install
valgrind`); a fixture and its five cases take about eighteen minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.table import print_columns, print_json_or

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ROOT = Path(__file__).resolve().parent.parent
CASES = ("pdf", "lean", "email", "jinja", "request")
WARM_UP = {"pdf": 3, "lean": 3, "email": 30, "jinja": 30, "request": 30}
_TOTALS = re.compile(r"^(?:totals|summary):\s+(\d+)", re.MULTILINE)


# --- The child: one case of one fixture, under callgrind -------------------------------------

def case_call(case: str, fixture: str, folder: Path) -> Callable[[], object]:
    """The argument-less call that `case` measures for `fixture` (type/name), with the app's
    database and files in `folder`; the app's context is pushed for good, as the child does
    nothing else."""
    if case == "loop":  # a known amount of pure Python work, for tests/bench/test_instructions.py
        return lambda: sum(range(int(fixture)))
    from app.pipeline import commit, prepare_message, render_message
    from app.templating import compiled
    from bench import pdf_cpu
    from bench.render import bench_app

    app = bench_app(folder, auto_reload=False)
    app.app_context().push()
    document = json.loads((FIXTURES / f"{fixture}.json").read_text(encoding="utf-8"))
    if case in ("pdf", "lean"):
        return pdf_cpu.layouts(document)[0][case]
    email_only = {**document, "channels": ["email"]}
    if case == "email":
        return lambda: commit(render_message(email_only))
    if case == "request":
        return _request_call(app, email_only)
    message, _ = prepare_message(email_only)
    context = {**message.context, "channel": "email"}
    email = compiled(f"email/{document['type']}/email.mjml", context)
    return lambda: email.render(context)


def _request_call(app: Any, document: dict[str, Any]) -> Callable[[], object]:
    """POST /v1/render of `document` with a render key, as an upstream system calls it."""
    from app.auth import keys
    from app.store import session

    _, key = keys.create(session(), "bench", ["render"])
    session().commit()
    client = app.test_client()
    body = json.dumps(document).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def call() -> object:
        answer = client.post("/v1/render", data=body, headers=headers)
        if answer.status_code != 201:
            raise RuntimeError(f"POST /v1/render answered {answer.status_code}: {answer.get_data()[:500]!r}")
        return answer

    return call


def child(case: str, fixture: str, warm_up: int, calls: int) -> None:
    """Warm up, then make `calls` calls: the parent counts the whole process."""
    with tempfile.TemporaryDirectory(prefix="touchpoint-bench-") as folder:
        call = case_call(case, fixture, Path(folder))
        for _ in range(warm_up + calls):
            call()
        # The database's last checkpoint, before its folder goes: the thread that would run it
        # half a second later (fifty times that under valgrind) found its file gone, failed,
        # and left a file behind that made the folder's removal fail. A case that made no app
        # (`loop`) imported none of it, and must not: its count would carry the imports' noise.
        checkpoints = sys.modules.get("app.store.checkpoints")
        if checkpoints is not None:
            checkpoints.checkpointer.drain(600)


# --- The parent -------------------------------------------------------------------------------

def count(case: str, fixture: str, calls: int, warm_up: int | None = None) -> float:
    """Instructions per call of `case` for `fixture`: callgrind counts two child processes
    whole, one that warms up and makes `calls` calls and one that only warms up; the
    difference is the calls' (start-up, warm-up and shut-down cancel out)."""
    warm_up = WARM_UP.get(case, 1) if warm_up is None else warm_up
    with ThreadPoolExecutor(max_workers=2) as pool:
        made, idle = pool.map(lambda n: _whole(case, fixture, warm_up, n), (calls, 0))
    return (made - idle) / calls


def _whole(case: str, fixture: str, warm_up: int, calls: int) -> int:
    """The instructions of one child process's main thread, start to end, counted by callgrind
    (each thread apart: the main thread's file ends in `-01`)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("bench.instructions needs valgrind: apt-get install valgrind")
    with tempfile.TemporaryDirectory(prefix="touchpoint-instructions-") as name:
        out = Path(name) / "callgrind.out"
        command = [valgrind, "--tool=callgrind", "--separate-threads=yes", f"--callgrind-out-file={out}",
                   sys.executable, "-m", "bench.instructions", "--child", case, fixture, str(warm_up),
                   str(calls)]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
        main = out.with_name(f"{out.name}-01")
        found = _TOTALS.search(main.read_text(errors="replace")) if main.exists() else None
        if done.returncode != 0 or found is None:
            raise RuntimeError(f"{case} {fixture} failed: {done.stderr.decode(errors='replace')[-2000:]}")
        return int(found.group(1))


def measure(fixtures: list[str], pdfs: int, renders: int,
            cases: tuple[str, ...] = CASES) -> list[dict[str, Any]]:
    """Per fixture, millions of instructions per call of each case (two children at a time)."""
    results: dict[str, dict[str, Any]] = {}
    for fixture in fixtures:
        for case in cases:
            instructions = count(case, fixture, pdfs if case in ("pdf", "lean") else renders)
            print(f"bench: {fixture} {case}: {instructions / 1e6:.2f} M instructions a call", file=sys.stderr)
            results.setdefault(fixture, {"fixture": fixture})[case] = instructions / 1e6
    return list(results.values())


def print_rows(rows: list[dict[str, Any]], out: Any = sys.stdout) -> None:
    print("\nMillions of instructions a call (callgrind), and the ratio to the floor", file=out)
    header = ("fixture", "pdf", "lean", "pdf/lean", "email", "jinja", "email/jinja", "request",
              "request/email")
    lines = [header] + [(
        row["fixture"], _cell(row, "pdf", 1), _cell(row, "lean", 1), _ratio(row, "pdf", "lean"),
        _cell(row, "email", 2), _cell(row, "jinja", 2), _ratio(row, "email", "jinja"),
        _cell(row, "request", 2), _ratio(row, "request", "email"),
    ) for row in rows]
    print_columns(lines, out)
    # The timed PDF table's goal (imported here: the children import this module, and only
    # the cases that need the app load it).
    from bench.pdf_cpu import GOAL_RATIO
    print(f"goal: pdf within {GOAL_RATIO}x of lean", file=out)


def _cell(row: dict[str, Any], case: str, digits: int) -> str:
    return f"{row[case]:.{digits}f}" if case in row else "-"


def _ratio(row: dict[str, Any], case: str, floor: str) -> str:
    return f"{row[case] / row[floor]:.2f}x" if case in row and floor in row else "-"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        case, fixture, warm_up, calls = argv[1:5]
        child(case, fixture, int(warm_up), int(calls))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--type", choices=("appointment", "invoice", "bill"))
    parser.add_argument("--fixture", action="append", default=[],
                        help="a fixture as type/name (e.g. bill/electricity-nl); repeatable")
    parser.add_argument("--case", action="append", choices=CASES,
                        help="count only this case (repeatable; default every case)")
    parser.add_argument("--pdfs", type=int, default=5, help="PDFs counted per case (default 5)")
    parser.add_argument("--renders", type=int, default=50, help="email renders counted per case (default 50)")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args(argv)
    fixtures = args.fixture or [
        f"{path.parent.name}/{path.stem}"
        for kind in ([args.type] if args.type else ["appointment", "invoice", "bill"])
        for path in sorted((FIXTURES / kind).glob("*.json"))[:1]]
    cases = tuple(args.case) if args.case else CASES
    print_json_or(measure(fixtures, args.pdfs, args.renders, cases), args.json, print_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
