"""What every request passes through, in one place: language, session, CSRF, headers."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlsplit

from litestar._parsers import parse_cookie_string
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Message, Receive, Scope, Send

from web.core import i18n
from web.core.auth import SESSION_COOKIE
from web.core.domain import session_loader
from web.settings import get_settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# No inline script or style: the shell is all files from this origin.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; worker-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(self), geolocation=(), microphone=()"),
]
# Paths that need neither a session nor a language (files, health).
BARE_PREFIXES = ("/static/", "/healthz", "/ping", "/sw.js", "/favicon.ico")
# The request's cookies, parsed once, kept in its scope (never in scope["state"], which an
# ASGI server builds from state shared by every request): the writes of a batch carry the
# batch's own Cookie header (web.sync.batch lends it), and are handed these too.
PARSED_COOKIES = "gridline_cookies"


def same_origin(headers: dict[str, str]) -> bool:
    """CSRF check that survives a service worker replaying a stored request hours later.

    Browsers send Sec-Fetch-Site on every request (a replay from our own worker is
    "same-origin"); older ones at least send Origin on unsafe requests. No token is
    involved, so nothing expires while a request waits in a phone's outbox.
    """
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = headers.get("origin")
    if not origin or origin == "null":
        return False
    return urlsplit(origin).netloc == headers.get("host", "")


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    """The request's cookies as Litestar reads them (`request.cookies`): one odd cookie of
    another app on the same host (a space, a quote) must not hide the session's."""
    raw = headers.get("cookie")
    return parse_cookie_string(raw) if raw else {}


def client_address(scope: Scope, trusted: frozenset[str]) -> str:
    """The client's address: the direct peer's, unless the peer is a trusted proxy; then the
    nearest address in X-Forwarded-For that is not one of the trusted proxies (what a
    client wrote further left could be forged)."""
    peer = scope.get("client")
    address = peer[0] if peer else ""
    if address not in trusted:
        return address
    forwarded = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
    for hop in reversed([part.strip() for value in forwarded for part in value.split(",")]):
        if hop and hop not in trusted:
            return hop
    return address


def _add_headers(message: Message, extra: list[tuple[bytes, bytes]]) -> None:
    start = cast("dict[str, Any]", message)  # called for http.response.start only
    headers: list[tuple[bytes, bytes]] = list(start.get("headers", []))
    vary_index = next((i for i, (k, _) in enumerate(headers) if k.lower() == b"vary"), None)
    if vary_index is None:
        headers.append((b"vary", b"HX-Request"))
    else:
        key, value = headers[vary_index]
        if b"hx-request" not in value.lower():
            headers[vary_index] = (key, value + b", HX-Request")
    names = {k.lower() for k, _ in headers}
    headers.extend((k, v) for k, v in extra if k not in names)
    start["headers"] = headers


async def add_headers(message: Message, scope: Scope) -> None:
    """`before_send` hook: runs for every response, unmatched routes' 404s included
    (Litestar middleware runs only for matched routes)."""
    if message["type"] == "http.response.start":
        _add_headers(message, SECURITY_HEADERS)


def apply_locale(headers: dict[str, str], cookies: dict[str, str]) -> None:
    i18n.set_locale(i18n.negotiate(cookies.get(i18n.LANG_COOKIE), headers.get("accept-language")))


class Edge(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        headers = _headers(scope)
        path: str = scope["path"]

        bare = path.startswith(BARE_PREFIXES)
        http = cast("dict[str, Any]", scope)  # an HTTP scope (`scopes` above), with the app's own keys
        cookies: dict[str, str] = {}
        if not bare:
            cookies = http.get(PARSED_COOKIES)  # type: ignore[assignment]
            if cookies is None:
                cookies = http[PARSED_COOKIES] = _cookies(headers)
            apply_locale(headers, cookies)

        if http["method"] not in SAFE_METHODS and not same_origin(headers):
            await _plain(send, 403, i18n.gettext("This request came from another site and was refused."))
            return

        if not bare:
            token = cookies.get(SESSION_COOKIE)
            principal = await session_loader()(token, get_settings().session_idle_days) if token else None
            http["user"] = principal
        await next_app(scope, receive, send)


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
    }
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)
