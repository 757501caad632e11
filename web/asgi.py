"""The served app: `web.asgi:serve` is uvicorn's app factory (one call per worker
process), the Litestar app wrapped in the access log.

Every request gets a request id (a client's own `X-Request-Id`, when it sends a sane one,
as a proxy in front does; else a new one), echoed in the answer's `X-Request-Id`, written
on its access-log line and on every log line written while it runs (errors included), so
one request is followed across the proxy's log and every instance's.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import sys
import time
from typing import Any

from web.settings import Settings, get_settings

log = logging.getLogger("gridline")
access = logging.getLogger("gridline.access")

REQUEST_ID = contextvars.ContextVar("request_id", default="-")
_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
_PREFIX = f"{os.getpid():x}-"
_counter = 0


def _new_id() -> str:
    """Unique across instances and restarts: the process id and a count (cheaper than a uuid)."""
    global _counter
    _counter += 1
    return f"{_PREFIX}{int(time.time()):x}-{_counter:x}"


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def configure_logging(level: int = logging.INFO, stream: Any = None) -> None:
    """The one configured logger, "gridline" (and "gridline.access" under it): one line a
    record on standard error, each with its request id. Called once per process."""
    logger = logging.getLogger("gridline")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


class AccessLog:
    """Pure ASGI around the whole app, so unmatched routes' answers are logged too."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:  # the Litestar app's own attributes (tests, state)
        return getattr(self.app, name)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                if _SANE_ID.fullmatch(value):
                    request_id = value.decode("latin-1")
                break
        request_id = request_id or _new_id()
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 0
        header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if access.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access.info("%s %s %s %s %.1fms", client[0] if client else "-", scope["method"], scope["path"],
                            status or 500, (time.perf_counter() - started) * 1000)
            REQUEST_ID.reset(token)


def build(settings: Settings | None = None) -> AccessLog:
    from web.app import create_app

    return AccessLog(create_app(settings or get_settings()))


def serve() -> AccessLog:
    """uvicorn's factory (`web.asgi:serve`): each worker process builds its own app."""
    configure_logging()
    return build()
