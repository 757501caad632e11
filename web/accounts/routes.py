"""Sign-in, sign-out, residents' links, language, the user's own account, and the accounts
secretaries and the command centre manage."""

from __future__ import annotations

from dataclasses import dataclass
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
from web.core.forms import Form, FormPage
from web.core.edge import client_address
from web.core.i18n import _
from web.core.render import redirect, render
from web.settings import get_settings
import re
from web import db
from web.accounts.auth import Principal, able, hash_password
from web.accounts.tables import ROLES, Organisation, RoleGrant, User
from web.audit.logic import record
from web.core.forms import valid_phone
from web.core.render import refused
from web.core.scope import ROLE_ORDER
from web.places.tables import Place


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
class SignInPage(FormPage):
    username: str = ""
    next: str = "/"


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


# ---- accounts of staff, for secretaries and the command centre: create, roles, lost phones ----


# Where each role is held.
ROLE_PLACE_KINDS = {
    "commander": ("subdistrict",),
    "secretary": ("community",),
    "grid_head": ("grid",),
    "party_leader": ("grid",),
    "building_head": ("grid", "microgrid"),
    "volunteer": ("subdistrict", "community", "grid"),
}
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,39}$")
MIN_PASSWORD = 10


def _manager_where(principal: Principal) -> Any:
    """Users this manager may see: anyone holding a role at a place they manage."""
    paths = [g.path for g in principal.places_for("manage_accounts")]
    clause: Any = None  # the grants' places, or-ed
    for prefix in paths:
        term = RoleGrant.place.path.like(f"{prefix}%")
        clause = term if clause is None else clause | term
    return clause


def _outranks(principal: Principal, role: str, path: str) -> bool:
    """A manager holds a higher role at this place or above it."""
    return any(path.startswith(g.path) and ROLE_ORDER.index(role) > ROLE_ORDER.index(g.role)
               for g in principal.places_for("manage_accounts"))


async def _managed_user_ids(principal: Principal) -> list[int]:
    """Users every one of whose roles lies in this manager's area and below their rank:
    a secretary cannot reset a fellow secretary's password, nor someone who also holds
    a role elsewhere."""
    candidates = await RoleGrant.select(RoleGrant.user).where(_manager_where(principal)).distinct()
    ids = [r["user"] for r in candidates]
    grants = await RoleGrant.select(RoleGrant.user, RoleGrant.role, RoleGrant.place.path).where(
        RoleGrant.user.is_in(ids or [-1]))
    refused = {g["user"] for g in grants if not _outranks(principal, g["role"], g["place.path"])}
    return [i for i in ids if i not in refused]


async def _user_or_404(principal: Principal, user_id: int) -> dict:
    if user_id not in await _managed_user_ids(principal):
        raise NotFoundException()
    user = await User.select(User.id, User.username, User.display_name, User.phone, User.active,
                             User.organisation).where(User.id == user_id).first()
    if user is None:
        raise NotFoundException()
    return user


@dataclass
class AccountsPage(FormPage):
    users: list[dict]
    places: list[dict]
    organisations: list[dict]
    roles: tuple[str, ...] = ROLES


async def _accounts_page(principal: Principal) -> AccountsPage:
    ids = await _managed_user_ids(principal)
    users = await User.select(User.id, User.username, User.display_name, User.active).where(
        User.id.is_in(ids or [-1])).order_by(User.username)
    grants = await RoleGrant.select(RoleGrant.user, RoleGrant.role, RoleGrant.place.name).where(
        RoleGrant.user.is_in(ids or [-1]))
    for user in users:
        user["grants"] = [g for g in grants if g["user"] == user["id"]]
    paths = [g.path for g in principal.places_for("manage_accounts")]
    places: list[dict] = []
    for prefix in paths:
        places += await Place.select(Place.id, Place.name, Place.kind, Place.path).where(
            Place.path.like(f"{prefix}%")).order_by(Place.path)
    organisations = await Organisation.select(Organisation.id, Organisation.name).order_by(Organisation.name)
    return AccountsPage(users=users, places=places, organisations=organisations)


@get("/accounts", guards=[able("manage_accounts")])
async def accounts_page(request: Request[Any, Any, Any]) -> Response[str]:
    return render(request, "pages/accounts.html", await _accounts_page(principal_of(request)))


@post("/accounts", guards=[able("manage_accounts")])
async def create_account(request: Request[Any, Any, Any]) -> Response[Any]:
    principal = principal_of(request)
    page = await _accounts_page(principal)
    form = await Form.read(request)
    username = form.required("username").lower()
    if username and not USERNAME.match(username):
        form.errors["username"] = _("Use 3 to 40 lowercase letters, digits, dot, dash or underscore.")
    elif username and await User.exists().where(User.username == username):
        form.errors["username"] = _("This username is taken.")
    display_name = form.required("display_name")
    phone = form.get("phone").replace(" ", "")
    if phone and not valid_phone(phone):
        form.errors["phone"] = _("Enter a mobile number of 11 digits, or a landline with area code.")
    password = form.required("password")
    if password and len(password) < MIN_PASSWORD:
        form.errors["password"] = _("Use at least %(n)s characters.", n=MIN_PASSWORD)
    role = form.choice("role", ROLES)
    place_id = form.integer("place", 1, 2**31, required=True)
    place = next((p for p in page.places if p["id"] == place_id), None)
    if place_id and place is None:
        form.errors["place"] = _("Choose a place you manage.")
    elif place and role in ROLE_PLACE_KINDS and place["kind"] not in ROLE_PLACE_KINDS[role]:
        form.errors["place"] = _("This role is not held at this kind of place.")
    elif place and role in ROLES and not _outranks(principal, role, place["path"]):
        form.errors["role"] = _("You can only give roles below your own.")
    org_id = form.integer("organisation", 1, 2**31)
    if role == "volunteer" and org_id is None:
        form.errors["organisation"] = _("A volunteer belongs to an organisation.")
    elif org_id is not None and not any(o["id"] == org_id for o in page.organisations):
        form.errors["organisation"] = _("Choose one of the options.")
    if not form.ok:
        return refused(request, "pages/accounts.html", page, form, "create")
    assert place is not None
    user_id = await logic.create_user(username, display_name, password, phone, role, place["id"],
                                      org_id if role == "volunteer" else None)
    await record(principal, "create_account", f"user:{user_id}", place["path"], f"{username} {role}")
    return redirect(request, f"/accounts/{user_id}")


@dataclass
class UserPage:
    user: dict
    grants: list[dict]
    sessions: list[dict]
    message: str = ""


async def _user_page(principal: Principal, user_id: int) -> UserPage:
    user = await _user_or_404(principal, user_id)
    grants = await RoleGrant.select(RoleGrant.role, RoleGrant.place.name, RoleGrant.place.kind).where(
        RoleGrant.user == user_id)
    sessions = await Session.select().where((Session.user == user_id) & Session.revoked_at.is_null()).order_by(
        Session.last_seen_at, ascending=False)
    return UserPage(user=user, grants=grants, sessions=sessions)


@get("/accounts/{user_id:int}", guards=[able("manage_accounts")])
async def user_page(request: Request[Any, Any, Any], user_id: FromPath[int]) -> Response[str]:
    return render(request, "pages/user.html", await _user_page(principal_of(request), user_id))


@post("/accounts/{user_id:int}/signout-everywhere", guards=[able("manage_accounts")])
async def signout_everywhere(request: Request[Any, Any, Any], user_id: FromPath[int]) -> Response[str]:
    """A lost phone: every session of this user ends now."""
    principal = principal_of(request)
    await _user_or_404(principal, user_id)
    count = await logic.revoke_sessions(Session.user == user_id)
    await record(principal, "revoke_sessions", f"user:{user_id}", "", str(count))
    page = await _user_page(principal, user_id)
    page.message = _("Signed out of %(n)s devices.", n=count)
    return render(request, "pages/user.html", page, partial="sessions")


@post("/accounts/{user_id:int}/active", guards=[able("manage_accounts")])
async def set_active(request: Request[Any, Any, Any], user_id: FromPath[int]) -> Response[Any]:
    principal = principal_of(request)
    await _user_or_404(principal, user_id)
    form = await Form.read(request)
    active = form.get("active") == "1"
    async with db.write():
        await User.update({User.active: active}).where(User.id == user_id)
    if not active:
        await logic.revoke_sessions(Session.user == user_id)
    await record(principal, "activate" if active else "deactivate", f"user:{user_id}")
    return redirect(request, f"/accounts/{user_id}")


@post("/accounts/{user_id:int}/password", guards=[able("manage_accounts")])
async def reset_password(request: Request[Any, Any, Any], user_id: FromPath[int]) -> Response[Any]:
    principal = principal_of(request)
    page = await _user_page(principal, user_id)
    form = await Form.read(request)
    password = form.required("password")
    if password and len(password) < MIN_PASSWORD:
        form.errors["password"] = _("Use at least %(n)s characters.", n=MIN_PASSWORD)
    if not form.ok:
        return render(request, "pages/user.html", page, partial="password", status_code=422, errors=form.errors)
    async with db.write():
        await User.update({User.password_hash: hash_password(password)}).where(User.id == user_id)
    await logic.revoke_sessions(Session.user == user_id)
    await record(principal, "reset_password", f"user:{user_id}")
    return redirect(request, f"/accounts/{user_id}")


routes = [signin_form, signin, signout, household_link, choose_language, account, revoke_own_session,
          accounts_page, create_account, user_page, signout_everywhere, set_active, reset_password]
