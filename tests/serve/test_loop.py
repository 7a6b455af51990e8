"""The background loop (app/loop.py): when it steps, how it stops, what a failing step does.

Every wait here is on an Event with a timeout that only bounds a failure; nothing sleeps.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.loop import BackgroundLoop

PATIENCE = 10.0
# Long enough that no step in a test comes from the interval unless the test wants it to.
NEVER = 3600.0


class Steps:
    """A step that counts its calls and lets a test wait for the n-th."""

    def __init__(self, action: Callable[[int], None] = lambda _n: None) -> None:
        self.count = 0
        self.action = action
        self._changed = threading.Condition()

    def __call__(self) -> None:
        with self._changed:
            self.count += 1
            n = self.count
            self._changed.notify_all()
        self.action(n)

    def reach(self, n: int) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.count >= n, PATIENCE)


@pytest.fixture
def loops() -> Iterator[list[BackgroundLoop]]:
    """Loops a test made; each is stopped after it, whatever the test did."""
    made: list[BackgroundLoop] = []
    yield made
    for loop in made:
        assert loop.stop(PATIENCE)


def make(loops: list[BackgroundLoop], step: Callable[[], None], interval: float = NEVER,
         **options: Any) -> BackgroundLoop:
    loop = BackgroundLoop("test-loop", step, interval, **options)
    loops.append(loop)
    return loop


def test_a_wake_runs_a_step_at_once(loops: list[BackgroundLoop]) -> None:
    steps = Steps()
    loop = make(loops, steps)
    loop.start()
    loop.wake()
    assert steps.reach(1)
    loop.wake()
    assert steps.reach(2)
    assert loop.running


def test_the_interval_runs_steps_unwoken(loops: list[BackgroundLoop]) -> None:
    steps = Steps()
    make(loops, steps, interval=0.01).start()
    assert steps.reach(3)


def test_at_start_steps_without_waiting_for_the_interval(loops: list[BackgroundLoop]) -> None:
    steps = Steps()
    make(loops, steps, at_start=True).start()
    assert steps.reach(1)


def test_the_thread_is_a_named_daemon(loops: list[BackgroundLoop]) -> None:
    seen: list[threading.Thread] = []
    steps = Steps(lambda _n: seen.append(threading.current_thread()))
    loop = make(loops, steps, at_start=True)
    loop.start()
    assert steps.reach(1)
    assert seen[0].name == "test-loop" and seen[0].daemon and seen[0] is not threading.main_thread()


def test_stop_lets_the_running_step_finish_then_steps_no_more(loops: list[BackgroundLoop]) -> None:
    entered, release = threading.Event(), threading.Event()
    order: list[str] = []

    def step(_n: int) -> None:
        entered.set()
        assert release.wait(PATIENCE)
        order.append("step")

    steps = Steps(step)
    loop = make(loops, steps, interval=0.01, teardown=lambda: order.append("teardown"))
    loop.start()
    assert entered.wait(PATIENCE)
    stopped: list[bool] = []
    stopper = threading.Thread(target=lambda: stopped.append(loop.stop(PATIENCE)))
    stopper.start()
    # stop() is still waiting for the step: it has nothing to answer yet.
    assert not stopped and loop.running
    release.set()
    stopper.join(PATIENCE)
    assert stopped == [True] and not loop.running
    assert order == ["step", "teardown"] and steps.count == 1
    loop.wake()
    assert steps.count == 1


def test_a_failing_step_is_logged_and_the_loop_goes_on(loops: list[BackgroundLoop],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    def step(n: int) -> None:
        if n == 1:
            raise RuntimeError("the database is away")

    steps = Steps(step)
    loop = make(loops, steps, at_start=True)
    with caplog.at_level(logging.ERROR, logger="app.loop"):
        loop.start()
        assert steps.reach(1)
        loop.wake()
        assert steps.reach(2)
    assert loop.running
    [record] = caplog.records
    assert record.message == "test-loop: its step failed; the next runs in 3600 s"
    assert record.exc_info is not None and "the database is away" in str(record.exc_info[1])


def test_with_stop_on_error_a_failing_step_ends_the_loop(loops: list[BackgroundLoop],
                                                          caplog: pytest.LogCaptureFixture) -> None:
    torn_down = threading.Event()

    def step(_n: int) -> None:
        raise RuntimeError("broken")

    steps = Steps(step)
    loop = make(loops, steps, at_start=True, stop_on_error=True, teardown=torn_down.set)
    with caplog.at_level(logging.ERROR, logger="app.loop"):
        loop.start()
        assert torn_down.wait(PATIENCE)
        assert loop.stop(PATIENCE)
    assert steps.count == 1 and not loop.running
    assert [r.message for r in caplog.records] == ["test-loop stopped: its step failed"]


def test_a_failing_setup_ends_the_loop_before_any_step(loops: list[BackgroundLoop],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    def setup() -> None:
        raise RuntimeError("no pool")

    steps = Steps()
    torn_down = threading.Event()
    loop = make(loops, steps, at_start=True, setup=setup, teardown=torn_down.set)
    with caplog.at_level(logging.ERROR, logger="app.loop"):
        loop.start()
        assert torn_down.wait(PATIENCE)
        assert loop.stop(PATIENCE)
    assert steps.count == 0
    assert [r.message for r in caplog.records] == ["test-loop stopped: it could not start"]


def test_the_loop_logs_to_the_logger_it_is_given(loops: list[BackgroundLoop],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    def step(_n: int) -> None:
        raise RuntimeError("broken")

    steps = Steps(step)
    loop = make(loops, steps, at_start=True, logger=logging.getLogger("app.jobs.test"))
    with caplog.at_level(logging.ERROR):
        loop.start()
        assert steps.reach(1)
        assert loop.stop(PATIENCE)
    assert [r.name for r in caplog.records] == ["app.jobs.test"]


def test_starting_twice_runs_one_thread(loops: list[BackgroundLoop]) -> None:
    steps = Steps()
    loop = make(loops, steps)
    loop.start()
    thread = loop._thread
    loop.start()
    assert loop._thread is thread
    assert [t for t in threading.enumerate() if t.name == "test-loop"] == [thread]


def test_a_stopped_loop_starts_again(loops: list[BackgroundLoop]) -> None:
    steps = Steps()
    loop = make(loops, steps)
    loop.start()
    assert loop.stop(PATIENCE) and not loop.running
    loop.start()
    loop.wake()
    assert steps.reach(1) and loop.running


def test_stop_before_start_is_harmless(loops: list[BackgroundLoop]) -> None:
    loop = make(loops, Steps())
    assert loop.stop(PATIENCE) and not loop.running


def test_a_step_may_stop_its_own_loop(loops: list[BackgroundLoop]) -> None:
    loop: BackgroundLoop

    steps = Steps(lambda _n: loop.stop())
    loop = make(loops, steps, interval=0.01)
    loop.start()
    assert steps.reach(1)
    assert loop.stop(PATIENCE)
    assert steps.count == 1


def test_run_loops_in_the_calling_thread_until_stopped(loops: list[BackgroundLoop]) -> None:
    loop: BackgroundLoop
    threads: list[threading.Thread] = []

    def step(n: int) -> None:
        threads.append(threading.current_thread())
        if n == 3:
            loop.stop()

    steps = Steps(step)
    loop = make(loops, steps, interval=0.01, at_start=True)
    loop.run()
    assert steps.count == 3 and threads == [threading.main_thread()] * 3
    assert not loop.running
