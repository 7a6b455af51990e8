"""`python -m bench.instructions [--type TYPE] [--fixture NAME] [--pdfs N] [--renders N]`:
the same ratios as `python -m bench`, counted in instructions instead of timed.

This machine's speed moves by half from one run to the next and within a run (other machines
share its cores), and a ratio of two timings taken seconds apart moves with it. An instruction
count does not: valgrind's callgrind counts every instruction a process executes, the same from
run to run, at about fifty times the time. For each case of a fixture a child process runs it
under callgrind: it warms up, then the parent zeroes the counters (`callgrind_control -z`), the
child makes N calls, and the parent dumps the counters before the child exits, so start-up and
shut-down are not counted. Cases, beside their floors:
- pdf / lean: `layout.lay_out` (what the sandbox's child runs) and the lean reference of the same
  message (bench/lean/), as `bench/pdf_cpu.py` times them; goal pdf/lean <= 1.2;
- email / jinja: an email-only `commit(render_message(...))` through the app, and the email's
  compiled Jinja template rendered alone (the floor of `python -m bench`).

Instructions are not time: a cache miss or a system call costs more than its count says, and
the database's own waits are not counted. They are what a change to our code changes, measured
without the noise; use them to compare code, and `python -m bench` for milliseconds.
Needs valgrind (`apt-get install valgrind`); a fixture and its four cases take about ten
minutes on 2 cores, two children at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.table import print_columns

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ROOT = Path(__file__).resolve().parent.parent
CASES = ("pdf", "lean", "email", "jinja")
FLOORS = {"pdf": "lean", "email": "jinja"}
GOALS = {"pdf": 1.2, "email": None}
WARM_UP = {"pdf": 3, "lean": 3, "email": 30, "jinja": 30}
_TOTALS = re.compile(r"^(?:totals|summary):\s+(\d+)", re.MULTILINE)


# --- The child: one case of one fixture, under callgrind -------------------------------------

def case_call(case: str, fixture: str) -> Callable[[], object]:
    """The argument-less call that `case` measures for `fixture` (type/name); the app's context
    is pushed for good, as the child does nothing else."""
    if case == "loop":  # a known amount of pure Python work, for tests/bench/test_instructions.py
        return lambda: sum(range(int(fixture)))
    from app.pipeline import commit, prepare_message, render_message
    from app.templating import template
    from bench import pdf_cpu
    from bench.render import bench_app

    app = bench_app(Path(tempfile.mkdtemp(prefix="touchpoint-bench-")), auto_reload=False)
    app.app_context().push()
    document = json.loads((FIXTURES / f"{fixture}.json").read_text(encoding="utf-8"))
    if case in ("pdf", "lean"):
        return pdf_cpu.layouts(document)[0][case]
    email_only = {**document, "channels": ["email"]}
    if case == "email":
        return lambda: commit(render_message(email_only))
    message, _ = prepare_message(email_only)
    compiled = template(f"email/{document['type']}/email.mjml")
    context = {**message.context, "channel": "email"}
    return lambda: compiled.render(context)


def child(case: str, fixture: str, warm_up: int, calls: int, folder: Path) -> None:
    """Warm up, say so (`ready`), wait for `go`, make `calls` calls, say so (`done`), and
    wait for `exit`: the parent counts only between `go` and `done`."""
    call = case_call(case, fixture)
    for _ in range(warm_up):
        call()
    (folder / "ready").write_text(str(os.getpid()))
    _wait_for(folder / "go")
    for _ in range(calls):
        call()
    (folder / "done").touch()
    _wait_for(folder / "exit")


def _wait_for(path: Path, timeout: float = 3600.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never came")
        time.sleep(0.02)


# --- The parent -------------------------------------------------------------------------------

def count(case: str, fixture: str, calls: int, warm_up: int | None = None) -> float:
    """Instructions per call of `case` for `fixture`, counted by callgrind in a child."""
    valgrind, control = shutil.which("valgrind"), shutil.which("callgrind_control")
    if valgrind is None or control is None:
        raise SystemExit("bench.instructions needs valgrind: apt-get install valgrind")
    with tempfile.TemporaryDirectory(prefix="touchpoint-instructions-") as name:
        folder = Path(name)
        command = [valgrind, "--tool=callgrind", f"--callgrind-out-file={folder / 'callgrind.out'}",
                   sys.executable, "-m", "bench.instructions", "--child", case, fixture,
                   str(WARM_UP.get(case, 1) if warm_up is None else warm_up), str(calls), str(folder)]
        log = folder / "child.log"
        with log.open("wb") as output:
            process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
        try:
            while not (folder / "ready").exists():
                if process.poll() is not None:
                    raise RuntimeError(f"{case} {fixture} stopped: {log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.1)
            pid = (folder / "ready").read_text()
            subprocess.run([control, "--zero", pid], check=True, capture_output=True)
            (folder / "go").touch()
            _wait_for(folder / "done")
            subprocess.run([control, "--dump=measured", pid], check=True, capture_output=True)
            (folder / "exit").touch()
            process.wait(timeout=600)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        # The dump of --dump=measured is the first part file (callgrind.out.1); the file written
        # at exit holds only what ran after it.
        dumps = sorted(folder.glob("callgrind.out.*"), key=lambda path: int(path.suffix[1:]))
        found = _TOTALS.search(dumps[0].read_text(errors="replace")) if dumps else None
        if found is None:
            raise RuntimeError(f"callgrind wrote no counts for {case} {fixture}")
        return int(found.group(1)) / calls


def measure(fixtures: list[str], pdfs: int, renders: int, workers: int = 2) -> list[dict[str, Any]]:
    """Per fixture, millions of instructions per call of each case; two children at a time."""
    jobs = [(fixture, case) for fixture in fixtures for case in CASES]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        counted = pool.map(lambda job: count(job[1], job[0], pdfs if job[1] in ("pdf", "lean") else renders),
                           jobs)
        results: dict[str, dict[str, Any]] = {}
        for (fixture, case), instructions in zip(jobs, counted, strict=True):
            print(f"bench: {fixture} {case}: {instructions / 1e6:.2f} M instructions a call", file=sys.stderr)
            results.setdefault(fixture, {"fixture": fixture})[case] = instructions / 1e6
    return list(results.values())


def print_rows(rows: list[dict[str, Any]], out: Any = sys.stdout) -> None:
    print("\nMillions of instructions a call (callgrind), and the ratio to the floor", file=out)
    header = ("fixture", "pdf", "lean", "pdf/lean", "email", "jinja", "email/jinja")
    lines = [header] + [(
        row["fixture"], f"{row['pdf']:.1f}", f"{row['lean']:.1f}", f"{row['pdf'] / row['lean']:.2f}x",
        f"{row['email']:.2f}", f"{row['jinja']:.2f}", f"{row['email'] / row['jinja']:.2f}x",
    ) for row in rows]
    print_columns(lines, out)
    print(f"goal: pdf within {GOALS['pdf']}x of lean", file=out)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        case, fixture, warm_up, calls, folder = argv[1:6]
        child(case, fixture, int(warm_up), int(calls), Path(folder))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--type", choices=("appointment", "invoice", "bill"))
    parser.add_argument("--fixture", action="append", default=[],
                        help="a fixture as type/name (e.g. bill/electricity-nl); repeatable")
    parser.add_argument("--pdfs", type=int, default=5, help="PDFs counted per case (default 5)")
    parser.add_argument("--renders", type=int, default=50, help="email renders counted per case (default 50)")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args(argv)
    fixtures = args.fixture or [
        f"{path.parent.name}/{path.stem}"
        for kind in ([args.type] if args.type else ["appointment", "invoice", "bill"])
        for path in sorted((FIXTURES / kind).glob("*.json"))[:1]]
    rows = measure(fixtures, args.pdfs, args.renders)
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
    else:
        print_rows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
