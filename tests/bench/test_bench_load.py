"""The load benchmark works end to end against the real server, run as deployed.

`python -m bench.load` starts `python -m app.serve` with TOUCHPOINT_ENV=production and a key
made by `flask keys create`, renders, and exits 1 on any correctness failure: an error, a
locked database, an idempotency key with other than one message, an unclean stop. A small
run proves those hold; its times are printed for people, never asserted.
"""

from __future__ import annotations

import pytest

from bench import load


def test_a_small_load_in_production_mode_is_correct(capsys: pytest.CaptureFixture[str]) -> None:
    assert load.main(["--renders", "60", "--concurrency", "4"]) == 0, capsys.readouterr()
    printed = capsys.readouterr().out
    assert "TOUCHPOINT_ENV=production" in printed
    assert "render 201: 60" in printed and "errors: 0; 'database is locked' in the log: 0" in printed
    assert "messages per idempotency key: idem-0 1, idem-1 1, idem-2 1, idem-3 1, idem-4 1" in printed
