"""Routes of the shell: health, static files, the service worker, the manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath, FromQuery
from litestar.exceptions import NotFoundException

from web import db
from web.core import static
from web.core.i18n import HTML_LANG, LOCALES, _, current_locale, set_locale
from web.core.render import render
from web.settings import get_settings

SW_DIR = Path(__file__).resolve().parent.parent.parent / "sw"


@get("/healthz")
async def healthz() -> Response[dict]:
    engine = db.engine()
    try:
        rows = await db.fetch("SELECT count(*) AS n FROM place")
        state: dict[str, Any] = {"engine": engine.engine_type, "reachable": True, "places": rows[0]["n"]}
        status = 200
    except Exception as error:  # the point of this route is to say so rather than fail
        state = {"engine": engine.engine_type, "reachable": False, "error": type(error).__name__}
        status = 503
    return Response({"status": "ok" if status == 200 else "unavailable", "database": state}, status_code=status,
                    headers={"Cache-Control": "no-store"})


@get("/ping", sync_to_thread=False)
def ping() -> Response[str]:
    """The barest answer the server gives: a load balancer's liveness check, and the
    benchmarks' yardstick for what the framework alone costs."""
    return Response("ok", media_type="text/plain", headers={"Cache-Control": "no-store"})


@get("/static/{name:path}", sync_to_thread=False)
def static_file(name: FromPath[str]) -> Response[bytes]:
    item = static.lookup("/static" + name)
    if item is None:
        raise NotFoundException()
    return Response(item.body, media_type=item.media_type, headers={"Cache-Control": static.IMMUTABLE})


@get("/sw.js", sync_to_thread=False)
def service_worker() -> Response[str]:
    """Served from the root so its scope is the whole app; never cached by HTTP, so an
    update reaches phones on their next visit. The shell list is filled in here."""
    source = (SW_DIR / "sw.js").read_text(encoding="utf-8")
    build = get_settings().build
    version = static.fingerprint() + (f"-{build}" if build else "")
    source = source.replace("__VERSION__", version).replace(
        "__SHELL__", json.dumps(static.shell_urls() + ["/offline"])
    )
    return Response(source, media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})


@get("/manifest.webmanifest", sync_to_thread=False)
def manifest(lang: FromQuery[str] = "") -> Response[dict]:
    # Browsers fetch the manifest without cookies: the page names its language (?lang=en).
    if lang in LOCALES:
        set_locale(lang)
    body = {
        "id": "/",
        "name": _("Gridline"),
        "short_name": _("Gridline"),
        "description": _("Household sweeps, testing rounds and duty rosters for grid communities, offline too."),
        "lang": HTML_LANG[current_locale()],
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#fffbfe",
        "theme_color": "#b3261e",
        "icons": [
            {"src": static.static_url("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static.static_url("icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {"src": static.static_url("icons/icon.svg"), "sizes": "any", "type": "image/svg+xml"},
            {"src": static.static_url("icons/icon-maskable-512.png"), "sizes": "512x512", "type": "image/png",
             "purpose": "maskable"},
        ],
    }
    return Response(body, media_type="application/manifest+json", headers={"Cache-Control": "no-cache"})


@get("/offline", sync_to_thread=False)
def offline_page(request: Request[Any, Any, Any]) -> Response[str]:
    # Precached in the shell, which every user of the phone shares: render it for nobody.
    request.scope["user"] = None
    return render(request, "pages/offline.html")


routes = [healthz, ping, static_file, service_worker, manifest, offline_page]
