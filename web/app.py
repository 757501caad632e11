"""The Litestar application."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import Litestar, Request, Response
from litestar.config.compression import CompressionConfig
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.template.config import TemplateConfig

from web import db
from web.core import domain as domains
from web.core import routes as core_routes
from web.core.edge import Edge, add_headers, apply_locale
from web.core.i18n import _
from web.core.render import install_domains, is_htmx, redirect, render, template_engine
from web.settings import Settings, get_settings
from web.sync import chores as chore_runner
from web.sync.idempotency import IdempotentWrites

log = logging.getLogger("gridline")


def _wants_page(request: Request[Any, Any, Any]) -> bool:
    return request.method == "GET" and not is_htmx(request) and "text/html" in request.headers.get("accept", "")


def not_found(request: Request[Any, Any, Any], _exc: Exception) -> Response[Any]:
    # Unmatched paths never reach the Edge middleware: choose the language here too.
    apply_locale(dict(request.headers), dict(request.cookies))
    return render(request, "pages/error.html", status_code=404,
                  message=_("Nothing here, or nothing you have access to."))


def not_authorized(request: Request[Any, Any, Any], _exc: Exception) -> Response[Any]:
    """Pages send the user to sign in; htmx and replayed writes get a 401 they can act on."""
    if _wants_page(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect(request, f"/signin?next={target}")
    return render(request, "pages/error.html", status_code=401,
                  message=_("Your session has ended. Sign in again; nothing on this phone is lost."))


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    return render(request, "pages/error.html", status_code=exc.status_code,
                  message=_("This request could not be handled: %(detail)s", detail=exc.detail))


def server_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return render(request, "pages/error.html", status_code=HTTP_500_INTERNAL_SERVER_ERROR,
                  message=_("Something went wrong on the server. What you entered is kept; try again."))


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    engine = db.current_or_default()

    chores: list[asyncio.Task] = []
    install_domains()

    async def on_startup() -> None:
        await db.start(engine)
        await db.migrate()
        chores.append(asyncio.create_task(chore_runner.run_regularly(domains.chores())))

    async def on_shutdown() -> None:
        for chore in chores:
            chore.cancel()
        await asyncio.gather(*chores, return_exceptions=True)
        chores.clear()
        await db.stop(engine)

    return Litestar(
        # The shell's routes, then every domain's (web/<domain>/domain.py).
        route_handlers=[*core_routes.routes, *(r for d in domains.domains() for r in d.routes)],
        middleware=[Edge(), IdempotentWrites()],
        before_send=[add_headers],
        template_config=TemplateConfig(instance=template_engine),
        compression_config=CompressionConfig(backend="gzip", minimum_size=500, gzip_compress_level=6),
        exception_handlers={
            NotFoundException: not_found,
            NotAuthorizedException: not_authorized,
            HTTPException: http_error,
            Exception: server_error,
        },
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        openapi_config=None,
        debug=settings.debug,
    )
