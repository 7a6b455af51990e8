"""The connection table that spreads kept-alive connections over the web processes
(app/serve/balance.py). The real server's spread is tested in test_server.py."""

from __future__ import annotations

import os

import pytest

from app.serve.balance import ConnectionShares, ProcessShare


def test_a_process_over_its_share_is_told_so_and_one_within_it_is_not() -> None:
    shares = ConnectionShares(slots=4)
    first, second = shares.claim(), shares.claim()
    assert (first, second) == (0, 1)
    assert not shares.over_share(first, 101, 11)  # alone so far: all 11 are its share
    assert not shares.over_share(second, 102, 5)  # 16 over 2: a share of 8
    assert shares.over_share(first, 101, 11)
    # Three of its clients went over to the other process: 8 and 8.
    assert not shares.over_share(second, 102, 8)
    assert not shares.over_share(first, 101, 8)


def test_an_uneven_total_rounds_the_share_up() -> None:
    shares = ConnectionShares(slots=4)
    first, second = shares.claim(), shares.claim()
    shares.over_share(second, 102, 8)
    assert not shares.over_share(first, 101, 9)  # 17 over 2: 9 is a share
    assert shares.over_share(first, 101, 10)


def test_claimed_and_released_slots_hold_no_share() -> None:
    shares = ConnectionShares(slots=3)
    first, claimed = shares.claim(), shares.claim()
    shares.over_share(first, 101, 6)
    # A slot claimed for a process not yet forked counts for nothing until it publishes.
    assert not shares.over_share(first, 101, 6)
    third = shares.claim()
    shares.over_share(third, 103, 0)
    assert shares.over_share(first, 101, 6)  # 6 over 2 processes: a share of 3
    shares.release(third)
    assert not shares.over_share(first, 101, 6)
    assert shares.claim() == third
    assert shares.claim() is None  # every slot taken: that process does not balance
    assert claimed == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the master forks its web processes")
def test_the_table_is_shared_with_the_processes_forked_after_it() -> None:
    shares = ConnectionShares(slots=2)
    parent, child = shares.claim(), shares.claim()
    pid = os.fork()
    if pid == 0:  # the forked process publishes, as a web process does
        shares.over_share(child, os.getpid(), 12)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # What the child wrote is seen here: 4 is within a share of ceil(16 / 2), 12 is not.
    assert not shares.over_share(parent, os.getpid(), 4)
    assert shares.over_share(child, pid, 12)


def test_a_process_closes_only_its_excess_while_its_closes_are_under_way() -> None:
    """Its threads decide at once, each before any connection has gone: 11 held against a
    share of 8 closes three, not one per request served meanwhile."""
    shares = ConnectionShares(slots=2)
    busy, other = ProcessShare(shares, shares.claim()), ProcessShare(shares, shares.claim())
    assert not other.close_one(102, 5)
    decided = [busy.close_one(101, 11) for _ in range(6)]
    assert decided == [True, True, True, False, False, False]
    busy.closed()  # one answer sent: that connection's close is no longer under way...
    assert not busy.close_one(101, 10)  # ...and the process counts it gone: 10 - 2 closing
    assert busy.close_one(101, 11)  # a new client came meanwhile: over again


def test_a_process_without_a_slot_never_closes() -> None:
    shares = ConnectionShares(slots=1)
    assert ProcessShare(shares, shares.claim()).close_one(101, 1) is False  # alone: its share
    unbalanced = ProcessShare(shares, shares.claim())
    assert unbalanced.slot is None and not unbalanced.close_one(102, 100)
