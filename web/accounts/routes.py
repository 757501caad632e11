"""Sign-in, sign-out, residents' links, language, and the user's own account."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from web.accounts import logic
from web.accounts.auth import SESSION_COOKIE, principal_of, signed_in
from web.accounts.tables import Session
from web.core import i18n
from web.core.edge import client_address
from web.core.forms import Form
from web.core.i18n import _
from web.core.render import redirect, render
from web.settings import get_settings


def _local(next_url: str | None, default: str = "/") -> str:
    """Only same-site paths are followed after sign-in (no open redirect)."""
    if not next_url:
        return default
    parts = urlsplit(next_url)
    if parts.scheme or parts.netloc or not next_url.startswith("/") or next_url.startswith("//"):
        return default
    if "\\" in next_url or any(ord(c) < 32 for c in next_url):  # "/\\evil" is "//evil" to a browser
        return default
    return next_url


def _client_ip(request: Request[Any, Any, Any]) -> str:
    return client_address(request.scope, get_settings().trusted_proxies)


def _session_cookie(token: str | None) -> Cookie:
    settings = get_settings()
    return Cookie(
        key=SESSION_COOKIE,
        value=token or "",
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=settings.session_idle_days * 86400 if token else 0,
    )


@dataclass
class SignInPage:
    username: str = ""
    next: str = "/"
    errors: dict[str, str] = field(default_factory=dict)


@get("/signin", sync_to_thread=False)
def signin_form(request: Request[Any, Any, Any], next: FromQuery[str | None] = None) -> Response[str]:
    return render(request, "pages/signin.html", SignInPage(next=_local(next)))


@post("/signin")
async def signin(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await Form.read(request)
    username = form.required("username", _("Enter your username."))
    password = form.required("password", _("Enter your password."))
    page = SignInPage(username=username, next=_local(form.get("next")), errors=form.errors)
    if not form.ok:
        return render(request, "pages/signin.html", page, partial="form", status_code=422)
    result = await logic.sign_in(username, password, _client_ip(request), request.headers.get("user-agent", ""),
                                 get_settings())
    if isinstance(result, logic.Refused):
        if result.reason == "throttled":
            page.errors["form"] = _("Too many attempts. Wait %(minutes)s minutes and try again.",
                                    minutes=get_settings().signin_window_minutes)
            return render(request, "pages/signin.html", page, partial="form", status_code=429)
        page.errors["form"] = _("Username or password is wrong.")
        return render(request, "pages/signin.html", page, partial="form", status_code=422)
    return redirect(request, page.next, cookies=[_session_cookie(result.token)])


@post("/signout")
async def signout(request: Request[Any, Any, Any]) -> Redirect:
    """Always answers "signed out", even for a session that already ended, so a phone can
    always wipe itself after asking."""
    principal = request.scope.get("user")
    if principal is not None:
        await logic.sign_out(principal.session_id)
    return Redirect("/signin", status_code=303, cookies=[_session_cookie(None)])


@get("/h/{token:str}")
async def household_link(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    session_token = await logic.enter_by_link(token, _client_ip(request), request.headers.get("user-agent", ""))
    if session_token is None:
        return render(request, "pages/error.html", None, status_code=404,
                      message=_("This household link is not valid any more. Ask your grid head for a new one."))
    return Redirect("/my", status_code=303, cookies=[_session_cookie(session_token)])


@post("/lang")
async def choose_language(request: Request[Any, Any, Any]) -> Redirect:
    form = await Form.read(request)
    lang = form.get("lang")
    lang = lang if lang in i18n.LOCALES else i18n.DEFAULT_LOCALE
    cookie = Cookie(key=i18n.LANG_COOKIE, value=lang, path="/", max_age=365 * 86400, samesite="lax")
    return Redirect(_local(form.get("next")), status_code=303, cookies=[cookie])


@dataclass
class AccountPage:
    sessions: list[dict]
    current_session: int


@get("/account", guards=[signed_in])
async def account(request: Request[Any, Any, Any]) -> Response[str]:
    principal = principal_of(request)
    owner = Session.user == principal.user_id if principal.user_id else Session.id == principal.session_id
    sessions = await Session.select().where(owner & Session.revoked_at.is_null()).order_by(Session.last_seen_at, ascending=False)
    return render(request, "pages/account.html", AccountPage(sessions=sessions, current_session=principal.session_id))


@post("/account/sessions/{session_id:int}/revoke", guards=[signed_in])
async def revoke_own_session(request: Request[Any, Any, Any], session_id: FromPath[int]) -> Response[Any]:
    principal = principal_of(request)
    owner = Session.user == principal.user_id if principal.user_id else Session.id == principal.session_id
    if not await Session.exists().where((Session.id == session_id) & owner):
        raise NotFoundException()  # somebody else's session is out of scope: 404, like everything else
    await logic.revoke_sessions((Session.id == session_id) & owner)
    return Redirect("/account", status_code=303)


routes = [signin_form, signin, signout, household_link, choose_language, account, revoke_own_session]
