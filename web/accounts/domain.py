"""Accounts: sign-in, sessions, residents' household links, staff accounts and roles."""

from web.accounts import home, routes
from web.accounts.auth import load_principal
from web.core.auth import Principal
from web.core.domain import Domain, NavEntry
from web.core.i18n import _


async def offline_urls(principal: Principal) -> list[str]:
    return [] if principal.is_resident else ["/account"]


domain = Domain(
    name="accounts",
    order=3,
    routes=routes.routes,
    piccolo_app="web.accounts.piccolo_app",
    abilities={"manage_accounts": {"commander", "secretary"}},
    offline_urls=offline_urls,
    home_cards=home.cards,
    nav=[NavEntry("/account", lambda: _("Me"), order=90, prefix="/account")],
    load_principal=load_principal,
)
