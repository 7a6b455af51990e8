"""Conditional profile writes are atomic: 8 writers holding one ETag (or all creating with
`If-None-Match: *`; or PUTs and DELETEs mixed) start together, each with its own client, on
SQLite and PostgreSQL; exactly one wins, the others get 412, and what is stored is the
winner's."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

WRITERS = 8
MERGE = "application/merge-patch+json"


def all_at_once(app: Flask, write: Callable[[FlaskClient, int], Any]) -> list[Any]:
    """`write(client, n)` for n in 0..7, in 8 threads released together by a barrier."""
    barrier = threading.Barrier(WRITERS, timeout=60)
    clients = [app.test_client() for _ in range(WRITERS)]

    def one(n: int) -> Any:
        barrier.wait()
        return write(clients[n], n)

    with ThreadPoolExecutor(WRITERS) as pool:
        return list(pool.map(one, range(WRITERS)))


def test_of_eight_patches_with_one_if_match_exactly_one_wins(any_app: Flask) -> None:
    client = any_app.test_client()
    etag = client.put("/v1/profiles/c-race", json={"interests": ["start"]}).headers["ETag"]

    answers = all_at_once(any_app, lambda c, n: c.patch(
        "/v1/profiles/c-race", data=f'{{"interests": ["writer-{n}"]}}', content_type=MERGE,
        headers={"If-Match": etag}))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [412] * (WRITERS - 1), [a.get_data(as_text=True) for a in answers]
    [winner] = [answer for answer in answers if answer.status_code == 200]
    stored = client.get("/v1/profiles/c-race")
    assert stored.json == winner.json and stored.headers["ETag"] == winner.headers["ETag"]
    assert all(answer.mimetype == "application/problem+json"
               for answer in answers if answer.status_code == 412)


def test_of_eight_puts_with_one_if_match_exactly_one_wins(any_app: Flask) -> None:
    client = any_app.test_client()
    etag = client.put("/v1/profiles/c-race", json={"interests": ["start"]}).headers["ETag"]

    answers = all_at_once(any_app, lambda c, n: c.put(
        "/v1/profiles/c-race", json={"interests": [f"writer-{n}"]}, headers={"If-Match": etag}))

    assert sorted(answer.status_code for answer in answers) == [200] + [412] * (WRITERS - 1)
    [winner] = [answer.json for answer in answers if answer.status_code == 200]
    assert client.get("/v1/profiles/c-race").json == winner


def test_of_eight_create_only_puts_exactly_one_creates(any_app: Flask) -> None:
    answers = all_at_once(any_app, lambda c, n: c.put(
        "/v1/profiles/c-new", json={"interests": [f"writer-{n}"]}, headers={"If-None-Match": "*"}))

    assert sorted(answer.status_code for answer in answers) == [201] + [412] * (WRITERS - 1)
    [winner] = [answer.json for answer in answers if answer.status_code == 201]
    assert any_app.test_client().get("/v1/profiles/c-new").json == winner


def test_eight_patches_without_if_match_all_land(any_app: Flask) -> None:
    """No precondition: each patch is merged into what the others stored, none is lost."""
    client = any_app.test_client()
    client.put("/v1/profiles/c-race", json={"consents": {}})

    answers = all_at_once(any_app, lambda c, n: c.patch(
        "/v1/profiles/c-race", data=f'{{"consents": {{"topic{n}": true}}}}', content_type=MERGE))

    assert [answer.status_code for answer in answers] == [200] * WRITERS
    consents = client.get("/v1/profiles/c-race").json["consents"]
    assert consents == {f"topic{n}": True for n in range(WRITERS)}


def test_of_puts_and_deletes_with_one_if_match_exactly_one_wins(any_app: Flask) -> None:
    """A DELETE with If-Match erases only the profile it matched: never one a racing PUT wrote."""
    client = any_app.test_client()
    etag = client.put("/v1/profiles/c-race", json={"interests": ["start"]}).headers["ETag"]

    def put_or_delete(c: FlaskClient, n: int) -> Any:
        if n % 2:
            return c.delete("/v1/profiles/c-race", headers={"If-Match": etag})
        return c.put("/v1/profiles/c-race", json={"interests": [f"writer-{n}"]}, headers={"If-Match": etag})

    answers = all_at_once(any_app, put_or_delete)
    statuses = [answer.status_code for answer in answers]
    assert sorted(statuses) == [200] + [412] * (WRITERS - 1), statuses
    winner = statuses.index(200)
    stored = client.get("/v1/profiles/c-race")
    if winner % 2:  # a DELETE won: the profile is gone, and no PUT wrote after it
        assert answers[winner].json["erased"]["profile"] is True
        assert stored.status_code == 404
    else:
        assert stored.json == answers[winner].json
