"""The instruction counter of the bench (bench/instructions.py) on a known amount of work:
callgrind's count grows with the work done between the parent's zero and its dump, and
nothing of the child's start-up or shut-down is in it."""

from __future__ import annotations

import shutil

import pytest

from bench.instructions import count

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None,
                                reason="needs valgrind (scripts/system-deps)")


def test_twice_the_work_counts_twice_the_instructions() -> None:
    once = count("loop", "200000", calls=2, warm_up=0)
    twice = count("loop", "400000", calls=2, warm_up=0)
    # A Python process starts with tens of millions of instructions; the loop of 200,000
    # additions is some ten million. Counted whole, the two would differ by far less than 2x.
    assert 1.9 < twice / once < 2.1
    assert 2_000_000 < once < 100_000_000
