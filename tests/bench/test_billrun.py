"""The bill-run benchmark works end to end (issue: "CI runs it with N = 20 to prove it works").

`python -m bench.billrun 20` starts the real server, renders twenty bills as one NDJSON job
on the embedded runner and checks that each is archived exactly once with its PDF; its exit
status says so. Its figures are printed for people, never asserted here.
"""

from __future__ import annotations

import pytest

from bench import billrun, celery_scale


def test_the_bills_are_varied_and_valid_requests() -> None:
    made = list(billrun.bills(24))
    months = {len(bill["data"]["usage"]) for bill in made}
    assert months == set(range(13, 25))
    assert len({bill["recipient"]["customer_id"] for bill in made}) == 24
    for bill in made:
        usage = [entry["month"] for entry in bill["data"]["usage"]]
        assert usage == sorted(usage) and usage[-1] == "2026-10"
    assert list(billrun.bills(3)) == list(billrun.bills(3))  # seeded: runs compare


def test_a_run_of_twenty_bills_renders_each_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert billrun.main(["20"]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "job: done, 20 done, 0 failed" in printed
    assert "bills/s" in printed and "PDF pages/min" in printed and "database queries" in printed


@pytest.mark.broker
@pytest.mark.postgres
def test_the_celery_scale_run_renders_each_bill_once_with_one_and_two_processes(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert celery_scale.main(["4"]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "1 worker process(es):" in printed and "2 worker process(es):" in printed
    assert "(done, 4 done, 0 failed)" in printed and "speed-up of 2 processes over 1" in printed
