"""The database's answer deadline (database.query_deadline_s) on the API's requests.

A database that takes a request and never answers (a lock held by someone else, a
server stopped with SIGSTOP) must not hold a request, and with it one of the server's
worker threads, for ever: each answer the request waits for is bounded by the same
deadline as the door's (storage.answer_deadline), and a request past it is answered
503 with one line, its connection cut and never used again.

The bound belongs to a thread, so it is put on each function FastAPI runs on a worker
thread of its own: the credentials check and every endpoint that only reads or writes
the database. The face work in the inference pool is not bounded as a whole (a model
may rightly take longer than the deadline between two answers); its searches and
decisions are bounded by the stores themselves, as the door's are.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from fastapi import Request

from storage.answer_deadline import deadline_of

P = ParamSpec("P")
T = TypeVar("T")


def within_deadline(endpoint: Callable[P, T]) -> Callable[P, T]:
    """``endpoint`` (a sync endpoint or dependency taking ``services`` or ``request``
    by keyword, as FastAPI calls them) with each database answer it waits for bounded
    by database.query_deadline_s. Raises StoreUnresponsive (503) past it."""

    @functools.wraps(endpoint)
    def bounded(*args: P.args, **kwargs: P.kwargs) -> T:
        with deadline_of(_engine(kwargs)).bounded(per_answer=True):
            return endpoint(*args, **kwargs)

    return bounded


def _engine(arguments: dict[str, Any]) -> Any:
    services = arguments.get("services")
    if services is None:
        request = arguments.get("request")
        if not isinstance(request, Request):
            raise TypeError("within_deadline needs a services or request argument")
        services = request.app.state.services
    return services.store.engine
