"""The sync page and the offline manifest (every domain's offline URLs)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from web.core.auth import principal_of, signed_in
from web.core.domain import offline_urls
from web.core.render import owner_key, render
from web.sync import batch


@get("/sync/manifest", guards=[signed_in])
async def manifest(request: Request[Any, Any, Any]) -> Response[dict]:
    principal = principal_of(request)
    return Response({"user": owner_key(principal), "urls": await offline_urls(principal)},
                    headers={"Cache-Control": "no-store"})


@get("/sync", guards=[signed_in])
async def sync_page(request: Request[Any, Any, Any]) -> Response[str]:
    """The outbox lives on the phone: the page is a shell that app.js fills in."""
    return render(request, "pages/sync.html", None)


routes = [manifest, sync_page, *batch.routes]
