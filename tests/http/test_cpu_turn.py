"""The CPU turn (app/cpu_turn.py): in one process, renders run one at a time, each to its
end; what does not render runs beside them; a render that waits on the PDF's child lets the
next one in; CPU_TURN off, renders overlap as threads do. Through the real app, with a render
held half-way by a stage that waits for the test's word."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app import config, pipeline
from app.channels.sandbox import Sandbox
from app.cpu_turn import CpuTurn, cpu_turn
from tests.conftest import load_fixture

EMAIL_ONLY = {**load_fixture("invoice/capsules-nl"), "channels": ["email"]}
WAIT = 30  # seconds any one step may take before the test fails instead of hanging


class HeldRenders:
    """Each render stops in `prepare_message` until `go` is set; `entered` counts those that
    got there (inside the turn, when there is one)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.go = threading.Event()
        self.entered = threading.Semaphore(0)
        self.inside = 0
        self.most_inside = 0
        self._count = threading.Lock()
        real = pipeline.prepare_message

        def held(*args: Any, **kwargs: Any) -> Any:
            with self._count:
                self.inside += 1
                self.most_inside = max(self.most_inside, self.inside)
            self.entered.release()
            try:
                assert self.go.wait(WAIT)
                return real(*args, **kwargs)
            finally:
                with self._count:
                    self.inside -= 1

        monkeypatch.setattr(pipeline, "prepare_message", held)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> HeldRenders:
    return HeldRenders(monkeypatch)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as executor:
        yield executor


def _render(app: Flask, pool: ThreadPoolExecutor) -> Future[Any]:
    return pool.submit(lambda: app.test_client().post("/v1/render", json=EMAIL_ONLY))


def test_renders_of_one_process_run_one_at_a_time(app: Flask, held: HeldRenders,
                                                   pool: ThreadPoolExecutor) -> None:
    first = _render(app, pool)
    assert held.entered.acquire(timeout=WAIT)
    second = _render(app, pool)
    # The second waits for the turn, outside the render: it does not get in while the first holds it.
    assert not held.entered.acquire(timeout=0.5)
    held.go.set()
    assert held.entered.acquire(timeout=WAIT)
    assert first.result(WAIT).status_code == second.result(WAIT).status_code == 201
    assert held.most_inside == 1
    assert _taken_within(cpu_turn, WAIT)  # given back: free for the next


def test_what_does_not_render_runs_beside_a_render(app: Flask, held: HeldRenders,
                                                   pool: ThreadPoolExecutor) -> None:
    render = _render(app, pool)
    assert held.entered.acquire(timeout=WAIT)
    try:
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        assert client.get("/v1/messages/no-such-message").status_code == 404
    finally:
        held.go.set()
    assert render.result(WAIT).status_code == 201


def test_a_refused_render_takes_no_turn(app: Flask, held: HeldRenders,
                                        pool: ThreadPoolExecutor) -> None:
    render = _render(app, pool)
    assert held.entered.acquire(timeout=WAIT)
    try:
        # A call without a key is answered while the turn is held.
        assert app.test_client(key=None).post("/v1/render", json=EMAIL_ONLY).status_code == 401
    finally:
        held.go.set()
    assert render.result(WAIT).status_code == 201


def test_with_the_turn_off_renders_overlap(app: Flask, held: HeldRenders,
                                           pool: ThreadPoolExecutor) -> None:
    app.config["CPU_TURN"] = False
    renders = [_render(app, pool), _render(app, pool)]
    assert held.entered.acquire(timeout=WAIT) and held.entered.acquire(timeout=WAIT)
    held.go.set()
    assert [render.result(WAIT).status_code for render in renders] == [201, 201]
    assert held.most_inside == 2


@pytest.mark.parametrize(("value", "on"), [("false", False), ("0", False), ("true", True), ("on", True)])
def test_cpu_turn_is_set_from_the_environment(value: str, on: bool, monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv("TOUCHPOINT_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CPU_TURN", value)
    assert config.load({"SECRET_KEY": "x" * 48})["CPU_TURN"] is on


def _no_warm_up() -> None:
    pass


def _slow(seconds: float) -> str:
    time.sleep(seconds)
    return "laid out"


def test_waiting_on_the_sandboxs_child_lets_the_next_render_in() -> None:
    sandbox = Sandbox(processes=1, warm_up=_no_warm_up)
    child_running, child_answered = threading.Event(), threading.Event()
    # Whether the PDF's render was still waiting on its child when the next one got the turn.
    while_waiting: list[bool] = []

    def pdf() -> str:
        cpu_turn.take()
        try:
            child_running.set()
            _until(lambda: cpu_turn.queued() == 1)  # the next render waits for the turn
            result = sandbox.call(_slow, (1.0,), seconds=WAIT, megabytes=512)
            child_answered.set()
            assert cpu_turn.held()  # back in the turn once the child has answered
            return result
        finally:
            cpu_turn.give_back()

    def next_render() -> None:
        assert child_running.wait(WAIT)
        cpu_turn.take()
        while_waiting.append(not child_answered.is_set())
        cpu_turn.give_back()

    try:
        with ThreadPoolExecutor(2) as executor:
            laid_out = executor.submit(pdf)
            executor.submit(next_render).result(WAIT)
            assert laid_out.result(WAIT) == "laid out"
    finally:
        sandbox.close()
    # Had the turn stayed with the PDF's render, the next would have had it only afterwards.
    assert while_waiting == [True]


def test_the_turn_is_the_holders_own() -> None:
    turn = CpuTurn()
    turn.take()
    turn.take()  # a holder taking it again keeps it, it does not wait on itself
    assert turn.held()
    other: list[bool] = []
    thread = threading.Thread(target=lambda: (turn.give_back(), other.append(turn.held())))
    thread.start()
    thread.join(WAIT)
    assert other == [False] and turn.held()  # another thread cannot give back what it does not hold
    with turn.waiting():
        assert not turn.held()
    assert turn.held()
    turn.give_back()
    assert not turn.held()
    with turn.waiting():  # without the turn, waiting changes nothing
        assert not turn.held()
    assert not turn.held()


def test_the_turn_goes_to_the_thread_that_waited_longest() -> None:
    turn = CpuTurn()
    turn.take()
    order: list[int] = []
    waiting: list[threading.Thread] = []

    def wait_for_it(n: int) -> None:
        turn.take()
        order.append(n)
        turn.give_back()

    for n in range(4):
        thread = threading.Thread(target=wait_for_it, args=(n,))
        thread.start()
        waiting.append(thread)
        _until(lambda n=n: turn.queued() == n + 1)  # each in the queue before the next comes
    # The holder comes back for the turn at once, as a thread done with one request does with
    # the next: it queues behind the four.
    turn.give_back()
    turn.take()
    order.append(99)
    turn.give_back()
    for thread in waiting:
        thread.join(WAIT)
    assert order == [0, 1, 2, 3, 99]


def _until(condition: Callable[[], bool]) -> None:
    """Wait for `condition` (another thread's progress), failing after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.001)


def _taken_within(turn: CpuTurn, seconds: float) -> bool:
    """Whether another thread gets the turn within `seconds` (it gives it back at once)."""
    taken = threading.Event()

    def take() -> None:
        turn.take()
        taken.set()
        turn.give_back()

    threading.Thread(target=take, daemon=True).start()
    return taken.wait(seconds)


def _child_takes(turn: CpuTurn, answer: Any) -> None:
    answer.put(_taken_within(turn, WAIT))


def test_a_forked_child_finds_the_turn_free() -> None:
    cpu_turn.take()  # held by this thread at the fork
    try:
        context = multiprocessing.get_context("fork")
        answer = context.Queue()
        child = context.Process(target=_child_takes, args=(cpu_turn, answer))
        child.start()
        assert answer.get(timeout=WAIT) is True
        child.join(WAIT)
    finally:
        cpu_turn.give_back()
