"""Every write goes through the one seam (``api.write``): each POST route of the API depends on
``WriteDep`` or ``SubmitDep`` (or, reading its own request, calls ``read_submission``), each console
POST on the write console that builds the same ``Write``. The few that do not are named here with
the reason, so a new write route cannot bypass the seam."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

import api.console
import api.routes
from api.console.web import _write_console
from api.deps import get_session
from api.routes.ledger import HOT_ROUTES
from api.write import get_submit, get_write, read_submission

NOT_WRITES = {
    "/v1/certificates/verify": "a check of a file the caller sends: POST for its body, writes nothing",
    "/console/bank/certificate": "the same check in the console, on a read session",
    "/console/login": "opens a login session before there is an actor to key a write on",
    "/console/logout": "ends the login session; ending it twice is the same as once",
}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _posts() -> list[APIRoute]:
    """The POST routes of every router the app includes (the API's under /v1, the console's)."""
    modules = [api.console] + [
        importlib.import_module(info.name)
        for package in (api.routes, api.console)
        for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}.")
    ]
    routes = [
        r
        for m in modules
        for r in getattr(getattr(m, "router", None), "routes", ())
        if isinstance(r, APIRoute) and "POST" in r.methods
    ]
    assert len(routes) > 60  # the API's and the console's, not an empty list
    return routes


def _reads_its_own_submission(route: APIRoute) -> bool:
    """A route that reads its own request (no FastAPI parameters) and takes the seam's second door."""
    return not route.dependant.dependencies and read_submission.__name__ in route.endpoint.__code__.co_names


def test_every_api_write_route_takes_the_write_seam() -> None:
    bypassing = [
        r.path
        for r in _posts()
        if r.path.startswith("/v1/")
        and r.path not in NOT_WRITES
        and not {get_write, get_submit} & set(_calls(r.dependant))
        and not _reads_its_own_submission(r)
    ]
    assert bypassing == []


def test_a_hot_route_serves_the_function_its_documented_route_names() -> None:
    """What is served ahead of FastAPI's routing is what the OpenAPI text documents, and it takes
    the seam: the same function, path and method, not a second implementation."""
    documented = {(r.path, m): r.endpoint for r in _posts() for m in r.methods}
    assert HOT_ROUTES
    for hot in HOT_ROUTES:
        for method in hot.methods or ():
            if method == "HEAD":
                continue
            assert documented[(hot.path, method)] is hot.endpoint
        (route,) = [r for r in _posts() if r.path == hot.path and r.endpoint is hot.endpoint]
        assert _reads_its_own_submission(route)


def test_every_console_action_takes_the_write_console_that_builds_the_seam() -> None:
    bypassing = [
        r.path
        for r in _posts()
        if r.path.startswith("/console/")
        and r.path not in NOT_WRITES
        and _write_console not in set(_calls(r.dependant))
    ]
    assert bypassing == []


def test_only_the_seam_and_the_named_exceptions_open_a_write_session() -> None:
    """A write route that took ``SessionDep`` itself would write outside the one idempotency store."""
    openers = {
        r.path
        for r in _posts()
        if get_session in set(_calls(r.dependant))
        and not {get_write, _write_console} & set(_calls(r.dependant))
    }
    assert openers <= set(NOT_WRITES)


def test_a_signed_instruction_holds_no_session_while_it_waits_for_the_sequencer() -> None:
    (route,) = [r for r in _posts() if r.path == "/v1/instructions"]
    # no dependency at all (so no session): it reads its own request through the seam's second door
    assert route.dependant.dependencies == []
    assert _reads_its_own_submission(route)
