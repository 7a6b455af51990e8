"""The instruction counter of the bench (bench/instructions.py) on a known amount of work:
callgrind's count grows with the work done between the parent's zero and its dump, and
nothing of the child's start-up or shut-down is in it."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from flask.globals import app_ctx

from bench.instructions import case_call, count

needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None,
                                    reason="needs valgrind (scripts/system-deps)")


@needs_valgrind
def test_twice_the_work_counts_twice_the_instructions() -> None:
    once = count("loop", "200000", calls=2, warm_up=0)
    twice = count("loop", "400000", calls=2, warm_up=0)
    # A Python process starts with tens of millions of instructions; the loop of 200,000
    # additions is some ten million. Counted whole, the two would differ by far less than 2x.
    assert 1.9 < twice / once < 2.1
    assert 2_000_000 < once < 100_000_000


def test_the_request_case_renders_and_stores_through_the_api(tmp_path: Path) -> None:
    # The case the HTTP layer is counted by: each call a 201 from POST /v1/render with a key,
    # and a message in the archive (a refused call would count the refusal, not a render).
    call = case_call("request", "invoice/capsules-nl", tmp_path)
    context = app_ctx._get_current_object()  # the child keeps its context; a test must not
    try:
        answers = [call(), call()]
    finally:
        context.app.extensions["touchpoint.engine"].dispose()
        context.pop()
    assert [answer.status_code for answer in answers] == [201, 201]
    ids = {answer.get_json()["id"] for answer in answers}
    with sqlite3.connect(tmp_path / "bench.db") as database:
        stored = {row[0] for row in database.execute("SELECT id FROM messages")}
    assert ids == stored and len(ids) == 2
