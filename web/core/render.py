"""Pages and their partials.

A partial is a named block of the page's own template (no second file): a route
names the block to send when htmx asks (`HX-Request`), and sends the whole page
otherwise, so every page works as plain HTML first.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response
from litestar.plugins.jinja import JinjaTemplateEngine

from web.core import i18n
from web.core import texts
from web.core.static import static_url


def owner_key(principal: Any) -> str:
    return f"r{principal.household_id}" if principal.household_id is not None else f"u{principal.user_id}"

COMPONENTS = Path(__file__).resolve().parent.parent.parent / "components"


def _make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(COMPONENTS),
        autoescape=select_autoescape(["html", "svg", "js"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(static=static_url)
    from web.core import display

    env.filters.update(display.FILTERS)
    env.globals.update(display.GLOBALS)
    # Shared components as `ui.field(...)` etc.: a global, so a page's named blocks can
    # be rendered alone (a `{% from … import %}` at the top of a page would not run then).
    env.globals["ui"] = env.get_template("ui/macros.html").module
    return env


environment = _make_environment()


def install_domains() -> None:
    """Every domain's label filters and template globals, and the nav (called when the
    app is made: the declarations import routes, which import this module)."""
    from web.core.domain import nav_entries, template_globals, labels

    environment.filters.update(labels())
    environment.globals.update(template_globals())
    environment.globals["nav_entries"] = nav_entries()
    # The components module reads globals as they were when it was made: make it again.
    environment.globals["ui"] = environment.get_template("ui/macros.html").make_module()
texts.register()
template_engine = JinjaTemplateEngine.from_environment(environment)


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def render_html(template: str, context: Mapping[str, Any], block: str | None = None) -> str:
    tmpl = environment.get_template(template)
    if block is None:
        return tmpl.render(context)
    return "".join(tmpl.blocks[block](tmpl.new_context(dict(context))))


def render(
    request: Request[Any, Any, Any],
    template: str,
    page: object = None,
    *,
    partial: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[str]:
    """Render `template` with `page` (the page's typed context); only `partial` for htmx."""
    user = request.scope.get("user")
    context = {
        "page": page,
        "principal": user,
        "path": request.url.path,
        "query": request.url.query,
        "lang": i18n.current_locale(),
        "html_lang": i18n.HTML_LANG[i18n.current_locale()],
        "user_key": owner_key(user) if user is not None else "",
        **extra,
    }
    block = partial if partial and is_htmx(request) else None
    body = render_html(template, context, block)
    headers = {"Cache-Control": "private, no-cache", **(headers or {})}
    if user is not None:
        # The service worker keeps each user's pages apart by this key.
        headers["X-Gridline-User"] = context["user_key"]
    if request.method == "GET" and status_code == 200:
        # Lets "prepare for offline" refresh only what changed (304 for the rest).
        etag = '"' + hashlib.blake2b(body.encode(), digest_size=12).hexdigest() + '"'
        headers["ETag"] = etag
        if request.headers.get("if-none-match") == etag:
            return Response("", status_code=304, headers=headers)
    return Response(body, status_code=status_code, media_type="text/html; charset=utf-8", headers=headers)


def public_base(request: Request[Any, Any, Any]) -> str:
    """Where links handed to people point (GRIDLINE_PUBLIC_URL, else this request's host)."""
    from web.settings import get_settings

    return get_settings().public_url or str(request.base_url).rstrip("/")


def redirect(request: Request[Any, Any, Any], url: str, cookies: list[Any] | None = None) -> Response[Any]:
    """See-other after a successful form. htmx gets HX-Redirect instead of a 303, because
    fetch would follow the 303 itself and swap the next page into the form."""
    if is_htmx(request):
        return Response("", status_code=200, media_type="text/plain", headers={"HX-Redirect": url}, cookies=cookies)
    return Response("", status_code=303, media_type="text/plain", headers={"Location": url}, cookies=cookies)


def refused(request: Request[Any, Any, Any], template: str, page: Any, form: Any, partial: str | None = None, *,
            status_code: int = 422, prefix: str = "", **extra: Any) -> Response[str]:
    """A form that did not pass its checks, or that the server refused for a reason of
    its own (the campaign closed while it waited on a phone; too many in an hour): the
    same form again (the named block, for htmx) with each message beside its field and
    what was typed kept, as a 422 (or `status_code`). The offline outbox shows the
    message under "needs attention". `prefix` names a form's fields inside a page that
    has several ("new." for the person added at the door)."""
    page.errors = {f"{prefix}{k}": v for k, v in form.errors.items()}
    page.values = {f"{prefix}{k}": v for k, v in form.values.items()}
    return render(request, template, page, partial=partial, status_code=status_code, **extra)