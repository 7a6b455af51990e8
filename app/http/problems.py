"""Every error as `application/problem+json` (RFC 9457), whatever raised it."""

from __future__ import annotations

import logging

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from app.problems import BodyTooLarge, MethodNotAllowed, NotFound, Problem

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem_response(problem: Problem) -> Response:
    response = Response(json.dumps(problem.as_dict()), status=problem.status, mimetype=PROBLEM_JSON)
    response.headers.update(problem.headers)
    return response


def _from_http(exc: HTTPException) -> Problem:
    if exc.code == 413:
        return BodyTooLarge("The request body is larger than this service accepts.")
    if exc.code == 404:
        return NotFound(f"Nothing at {request.path}.")
    if exc.code == 405:
        return MethodNotAllowed(f"{request.method} is not allowed on {request.path}.")
    problem = Problem(exc.description)
    problem.status = exc.code or 500  # type: ignore[misc]
    problem.title = exc.name  # type: ignore[misc]
    problem.slug = exc.name.lower().replace(" ", "-")  # type: ignore[misc]
    return problem


def init_app(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(problem: Problem) -> Response:
        return problem_response(problem)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        if exc.response is not None:
            # Already a problem (the rate limiter's 429 with its Retry-After).
            return exc.response
        return problem_response(_from_http(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return problem_response(Problem("The service failed to answer; nothing was stored."))
