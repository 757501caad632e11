"""POST /sync/batch: a phone's queued writes sent in one request (docs/offline.md).

Each entry is dispatched in-process through the app itself, so it meets exactly what it
would meet sent alone: the edge (session, CSRF), the idempotency middleware, guards,
scope checks and the route. What an entry brings is its own: method, address, body, and
its Idempotency-Key, X-Occurred-At and X-Gridline-Owner. Who sends it and from where is
the batch request's: its session cookie, origin and language, never an entry's.

Entries run in order, one after another, each in a savepoint of one shared transaction
(as alone: a refused one rolls back only itself; see `db.grouped()`), answered once it is
committed. An answer the worker would stop at (401, 408, 429, 5xx) ends the batch there:
the entries after it wait, as they do one by one. The batch itself
carries no Idempotency-Key, so the idempotency middleware lets it through unrecorded;
each entry is recorded on its own.
"""

from __future__ import annotations

import functools
import json
import logging
import posixpath
from collections import Counter
from typing import Any
from urllib.parse import unquote, urlsplit

from litestar import Request, Response, post
from litestar.enums import MediaType

from web import db
from web.core.auth import signed_in
from web.core.edge import PARSED_COOKIES
from web.core.i18n import _
from web.sync.idempotency import KEY_IS_NEW, UNSAFE, new_keys

log = logging.getLogger("gridline")

MAX_ENTRIES = 50
PATH = "/sync/batch"
# What an entry may say about itself (what the worker keeps of a write, and htmx's own).
ENTRY_HEADERS = frozenset({"idempotency-key", "x-occurred-at", "x-gridline-owner", "x-gridline-label",
                           "content-type", "accept"})
# What every entry borrows from the batch request: who, from where, in which language.
LENT_HEADERS = frozenset({b"host", b"cookie", b"origin", b"sec-fetch-site", b"accept-language", b"user-agent"})
# Marks an entry's scope, so that an entry can never be a batch itself, however spelled.
IN_BATCH = "gridline_in_batch"


def stops(status: int) -> bool:
    """Answers after which later writes must wait (the worker keeps them and retries)."""
    return status == 401 or status in (408, 429) or status >= 500


class _Refused(Exception):
    """An entry that is not sent: answered here with a 400 and the reason."""


def _refusal(status: int, message: str) -> Response[dict]:
    return Response({"error": message}, status_code=status, media_type=MediaType.JSON,
                    headers={"Cache-Control": "no-store"})


def _unreadable() -> _Refused:
    return _Refused(_("This saved request could not be read and was not applied."))


@functools.lru_cache(maxsize=256)
def _target(url: str, host: str) -> tuple[str, bytes, bytes]:
    """An entry's path, raw path and query string, read from its address; kept for the
    next entries, which mostly go to the same few addresses (one household's page).
    An address this app must not answer is refused (not kept: it is raised each time)."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        # A stored request names its full address: it must be this very site.
        if parts.scheme not in ("http", "https") or parts.netloc != host:
            raise _Refused(_("This saved request is not addressed to this app and was not applied."))
    if not parts.path.startswith("/") or parts.path.startswith("//"):
        raise _unreadable()
    path = unquote(parts.path)
    if posixpath.normpath(path).rstrip("/") == PATH:
        raise _Refused(_("A batch cannot hold another batch."))
    return path, parts.path.encode("latin-1", errors="replace"), parts.query.encode("latin-1", errors="replace")


def _entry_scope(scope: Any, lent: list[tuple[bytes, bytes]], host: str, entry: Any) -> tuple[dict, bytes, str]:
    """The ASGI scope, body and Idempotency-Key of one entry, as if it had come alone on this connection
    (`host`: the batch's own Host header, decoded once for all its entries; its Cookie
    header is the batch's too, so are the cookies the edge parsed from it)."""
    if not isinstance(entry, dict):
        raise _unreadable()
    method, url, body, headers = entry.get("method"), entry.get("url"), entry.get("body", ""), entry.get("headers", {})
    if (not isinstance(method, str) or method.upper() not in UNSAFE or not isinstance(url, str)
            or not isinstance(body, str) or not isinstance(headers, dict)):
        raise _unreadable()
    path, raw_path, query = _target(url, host)
    kept: list[tuple[bytes, bytes]] = []
    key = None
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise _unreadable()
        name = name.lower()
        if name in ENTRY_HEADERS or name.startswith("hx-"):
            try:
                kept.append((name.encode("latin-1"), value.encode("latin-1")))
            except UnicodeEncodeError:
                raise _unreadable() from None
            if name == "idempotency-key":
                key = value  # the last one, as the idempotency middleware reads it
    if key is None:
        # Without a key a batch sent again (its answer lost) could apply a write twice.
        raise _unreadable()
    data = body.encode()
    kept.append((b"content-length", str(len(data)).encode()))
    return {
        "type": "http",
        "asgi": scope.get("asgi", {"version": "3.0"}),
        "http_version": scope.get("http_version", "1.1"),
        "method": method.upper(),
        "scheme": scope.get("scheme", "http"),
        "server": scope.get("server"),
        "client": scope.get("client"),
        "root_path": scope.get("root_path", ""),
        "path": path,
        "raw_path": raw_path,
        "query_string": query,
        "headers": lent + kept,
        "state": {IN_BATCH: True},
        PARSED_COOKIES: scope[PARSED_COOKIES],
    }, data, key


async def _dispatch(app: Any, scope: dict, body: bytes) -> dict[str, Any]:
    """One entry through the whole app; its answer as the worker needs it."""
    status = 0
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []
    sent = False

    async def receive() -> Any:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status, headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        await app(scope, receive, send)
    except Exception:  # the app answers its own errors; this is a last resort
        log.exception("batch entry %s %s failed", scope["method"], scope["path"])
        status = 500
    result: dict[str, Any] = {"status": status or 500, "replayed": False}
    for name, value in headers:
        name = name.lower()
        if name == b"location":
            result["location"] = value.decode("latin-1")
        elif name == b"idempotent-replayed":
            result["replayed"] = value == b"true"
    if not 200 <= result["status"] < 400:
        # The worker reads the reason from the answer's text, as it does one by one.
        result["body"] = b"".join(chunks).decode("utf-8", errors="replace")
    return result


@post(PATH, guards=[signed_in], status_code=200)
async def batch(request: Request[Any, Any, Any]) -> Response[dict]:
    """`{"entries": [{"method", "url", "headers", "body"}, ...]}` → `{"results": [...]}`,
    one result per entry in order, up to the first that makes the rest wait."""
    if request.scope["state"].get(IN_BATCH):
        return _refusal(400, _("A batch cannot hold another batch."))
    if "idempotency-key" in request.headers:
        # Recorded as one answer, a batch would replay stale answers for writes it never ran.
        return _refusal(400, _("A batch carries no Idempotency-Key of its own: each of its writes has one."))
    try:
        entries = json.loads(await request.body())["entries"]
        if not isinstance(entries, list):
            raise TypeError
    except (ValueError, TypeError, KeyError):
        return _refusal(400, _("This batch could not be read."))
    if len(entries) > MAX_ENTRIES:
        return _refusal(413, _("A batch holds at most %(count)s writes.", count=MAX_ENTRIES))
    lent = [(k, v) for k, v in request.scope["headers"] if k.lower() in LENT_HEADERS]
    host = next((v for k, v in lent if k == b"host"), b"").decode("latin-1")
    prepared: list[tuple[dict, bytes, str] | _Refused] = []
    for entry in entries:
        try:
            prepared.append(_entry_scope(request.scope, lent, host, entry))
        except _Refused as refused:
            prepared.append(refused)
    # A key sent twice in one batch is looked up each time: the second must meet the first's record.
    once = Counter(item[2] for item in prepared if not isinstance(item, _Refused))
    results: list[dict[str, Any]] = []
    position, stopped = 0, False
    while not stopped and position < len(prepared):
        # One transaction for the entries, each a savepoint of it (db.grouped()): what an
        # entry writes, refuses or reads is what it would be alone, since its savepoint
        # is released or rolled back on its own and later entries read through the same
        # connection. An entry that leaves work for after the commit (forgetting revoked
        # sessions) commits the group there; the rest goes on in a new one.
        async with db.grouped() as group:
            new = await new_keys([item[2] for item in prepared[position:]
                                  if not isinstance(item, _Refused) and once[item[2]] == 1])
            while position < len(prepared):
                item = prepared[position]
                position += 1
                if isinstance(item, _Refused):
                    results.append({"status": 400, "replayed": False, "body": str(item)})
                    continue
                scope, body, key = item
                if key in new:
                    scope["state"][KEY_IS_NEW] = True
                result = await _dispatch(request.app, scope, body)
                results.append(result)
                if stops(result["status"]):
                    stopped = True
                    break
                if group.pending:
                    break
    # Answered only once everything in it is committed.
    return Response({"results": results}, media_type=MediaType.JSON, headers={"Cache-Control": "no-store"})


routes = [batch]
