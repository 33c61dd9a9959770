"""Refusing text with a NUL character (U+0000) before any of it reaches the database.

PostgreSQL's text cannot hold NUL, and the driver refuses such a value with an error
that is no client's business; JSON ("\\u0000"), a percent-encoded query or path
("%00") and a form field can all carry one. Checked once for every request, before
the endpoint runs, and refused with 422 naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import Request

from api.problems import ApiProblem

_NUL = "\x00"
# A JSON body is walked this deep at most; the body limit bounds its size already.
_MAX_DEPTH = 32


async def refuse_nul_text(request: Request) -> None:
    """Raises ApiProblem 422 naming the first path part, query parameter, form field
    or JSON string (as ``body.field``) that holds a NUL character."""
    found = _first(_texts(request))
    if found is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            found = _in_json(await request.body())
        elif content_type.startswith(("multipart/form-data", "application/x-www-form")):
            form = await request.form()
            found = _first(
                (f"body.{name}", value)
                for name, value in form.multi_items()
                if isinstance(value, str)
            )
    if found is not None:
        raise ApiProblem(
            422,
            "invalid-request",
            f"{found} contains a NUL character (\\u0000), which no text here may hold; remove it",
        )


def _texts(request: Request) -> Iterator[tuple[str, str]]:
    for name, value in request.path_params.items():
        yield f"path.{name}", str(value)
    if _NUL in request.url.path:
        yield "path", request.url.path
    for name, value in request.query_params.multi_items():
        yield f"query.{name}", name + value


def _first(texts: Any) -> str | None:
    return next((where for where, text in texts if _NUL in text), None)


def _in_json(body: bytes) -> str | None:
    if b"\\u0000" not in body:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None  # not JSON: the endpoint's own validation says so
    return _first(_walk(document, "body", 0))


def _walk(value: Any, where: str, depth: int) -> Iterator[tuple[str, str]]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield where, key
            yield from _walk(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for number, item in enumerate(value):
            yield from _walk(item, f"{where}.{number}", depth + 1)
