"""The one idempotency mechanism for every write (docs/offline.md).

Every unsafe request from a signed-in user that carries an `Idempotency-Key` runs in
one write transaction together with the record of its answer:

- a new key: the handler runs; a 2xx/3xx answer is committed with its record, any
  other answer rolls back (a refused write changes nothing and may be corrected and
  sent again);
- a key seen before from the same user: the first answer again, nothing changes;
- a key seen before from another user: refused (409), nothing changes.

`X-Occurred-At` (device time) is read here too; a clock more than five minutes ahead of
the server is clamped to the server's time and flagged.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any, cast

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from web import db
from web.core.auth import Principal
from web.core import i18n
from web.core.render import owner_key
from web.core.timeutil import now

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CLOCK_SKEW = timedelta(minutes=5)
# Answer headers worth replaying: where to go next and what htmx should do.
KEPT_HEADERS = frozenset({b"location", b"hx-redirect", b"hx-trigger", b"hx-location", b"hx-retarget", b"hx-reswap"})
# A key as phones make them (crypto.randomUUID()): the canonical form, 36 characters.
_KEY = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


# Set by a batch (web.sync.batch) on a write whose key it looked up, with its other
# writes' keys, in the same transaction and found new: the write need not look again.
KEY_IS_NEW = "gridline_key_is_new"


async def new_keys(keys: list[str]) -> set[str]:
    """Which of `keys` have no record yet, in one query (inside the caller's transaction)."""
    keys = [key for key in keys if len(key) == 36]  # only well-formed keys are ever recorded
    if not keys:
        return set()
    rows = await db.fetch(
        f"SELECT key FROM idempotency_record WHERE key IN ({', '.join('{}' for _ in keys)})", *keys
    )
    return set(keys) - {row["key"] for row in rows}


class _Rollback(Exception):
    """Raised inside the transaction to undo a refused write."""


def parse_occurred_at(value: str | None, received: datetime) -> tuple[datetime, bool]:
    """Device time if given and sane; a clock far ahead is clamped and flagged."""
    if not value:
        return received, False
    try:
        occurred = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return received, True
    if occurred.tzinfo is None:
        return received, True
    if occurred - received > CLOCK_SKEW:
        return received, True
    return occurred, False


def occurred_at(scope_or_request: Any) -> datetime:
    """When the user did it (device time, clamped): what field facts are stamped with."""
    state = scope_or_request.scope["state"] if hasattr(scope_or_request, "scope") else scope_or_request["state"]
    return state.get("occurred_at") or now()


def _valid_key(key: str) -> bool:
    return _KEY.fullmatch(key) is not None


async def _send_text(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send(cast(Message, {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}))
    await send(cast(Message, {"type": "http.response.body", "body": body}))


class IdempotentWrites(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        received = now()
        # The headers read here, in one pass over the raw ones (the last of a repeated one
        # wins, as a dict of them all would have it; ASGI gives their names in lower case).
        occurred_header = key = queued_by = None
        compressible = False
        for name, value in scope["headers"]:
            if name == b"idempotency-key":
                key = value.decode("latin-1")
            elif name == b"x-occurred-at":
                occurred_header = value.decode("latin-1")
            elif name == b"x-gridline-owner":
                queued_by = value.decode("latin-1")
            elif name == b"accept-encoding":
                compressible = True
        when, flagged = parse_occurred_at(occurred_header, received)
        http = cast("dict[str, Any]", scope)  # an HTTP scope (`scopes` above), with the app's own keys
        state = http.setdefault("state", {})
        state["occurred_at"], state["clock_flagged"] = when, flagged

        principal = scope.get("user")
        if http["method"] not in UNSAFE or not key or not isinstance(principal, Principal):
            await next_app(scope, receive, send)
            return
        if not _valid_key(key):
            await _send_text(send, 400, i18n.gettext("This request carries a malformed Idempotency-Key."))
            return
        owner = owner_key(principal)
        if queued_by and queued_by != owner:
            # Saved on a phone by another user: it must not be applied under this session.
            await _send_text(send, 409, i18n.gettext("This saved request belongs to another user and was not applied."))
            return
        if compressible:
            # The stored answer is replayed as it was: keep it uncompressed (answers to writes are small).
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]

        captured: list[Message] = []

        async def capture(message: Message) -> None:
            captured.append(message)

        replay: dict[str, Any] | None = None
        refused_owner = False
        try:
            async with db.write():
                # Plain SQL on purpose: this runs around every write a phone replays.
                found = [] if scope["state"].get(KEY_IS_NEW) else await db.fetch(
                    "SELECT owner, status, content_type, headers, body FROM idempotency_record WHERE key = {}", key
                )
                existing = found[0] if found else None
                if existing is not None:
                    if existing["owner"] != owner:
                        refused_owner = True
                    else:
                        replay = existing
                else:
                    await next_app(scope, receive, capture)
                    start = next((m for m in captured if m["type"] == "http.response.start"), None)
                    status = start["status"] if start else 500
                    if not 200 <= status < 400:
                        raise _Rollback()
                    # One pass over the answer's headers: what is replayed, its type, and
                    # whether it may be kept at all. An answer marked no-store (personal
                    # data revealed) is not kept: a repeat simply asks again, and is
                    # audited again.
                    keep_answer, kept, content_type = True, {}, None
                    for k, v in start.get("headers", []):  # type: ignore[union-attr]
                        lowered = k.lower()
                        if lowered == b"cache-control" and b"no-store" in v:
                            keep_answer = False
                        elif lowered == b"content-type" and content_type is None:
                            content_type = v.decode("latin-1")  # the first, as before
                        elif lowered in KEPT_HEADERS:
                            kept[lowered.decode("latin-1")] = v.decode("latin-1")
                    content_type = content_type or ""
                    body = b"".join(m.get("body", b"") for m in captured if m["type"] == "http.response.body")
                    if keep_answer:
                        # The same key sent twice at once (two connections, two app
                        # instances): the second insert waits for the first's commit and
                        # does nothing; its write is undone and the first answer given.
                        recorded = await db.fetch(
                            "INSERT INTO idempotency_record (key, owner, method, path, status, content_type, headers,"
                            " body, occurred_at, received_at, clock_flagged)"
                            " VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})"
                            " ON CONFLICT (key) DO NOTHING RETURNING id",
                            key, owner, http["method"], http["path"][:300], status, content_type, json.dumps(kept),
                            body.decode("utf-8", errors="replace"), when, received, flagged,
                        )
                        if not recorded:
                            raise _Rollback()
        except _Rollback:
            # Refused, or beaten by the same key sent at once: when the key has a record
            # now, that first answer is the answer (a loser whose write failed only
            # because the winner's came first must not see that failure).
            found = await db.fetch(
                "SELECT owner, status, content_type, headers, body FROM idempotency_record WHERE key = {}", key
            )
            if found:
                captured = []
                if found[0]["owner"] != owner:
                    refused_owner = True
                else:
                    replay = found[0]
        if refused_owner:
            await _send_text(send, 409, i18n.gettext("This saved request belongs to another user and was not applied."))
            return
        if replay is not None:
            await _replay(send, replay)
            return
        for message in captured:
            await send(message)


async def _replay(send: Send, record: dict[str, Any]) -> None:
    kept = record["headers"]
    if isinstance(kept, str):
        kept = json.loads(kept or "{}")
    body = (record["body"] or "").encode()
    headers = [(b"content-length", str(len(body)).encode()), (b"idempotent-replayed", b"true")]
    if record["content_type"]:
        headers.append((b"content-type", record["content_type"].encode()))
    headers += [(k.encode(), v.encode()) for k, v in kept.items()]
    await send(cast(Message, {"type": "http.response.start", "status": record["status"], "headers": headers}))
    await send(cast(Message, {"type": "http.response.body", "body": body}))
