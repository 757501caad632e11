"""The home page: what is each user's to look after and to do, as every domain's cards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Response, get

from web.core.auth import Principal
from web.core.domain import Card, home_cards
from web.core.render import redirect, render


@dataclass
class HomePage:
    cards: list[Card] = field(default_factory=list)
    has_duties: bool = False  # a volunteer with none is told so


@get("/")
async def home(request: Request[Any, Any, Any]) -> Response[Any]:
    principal = request.scope.get("user")
    if not isinstance(principal, Principal):
        return redirect(request, "/signin")
    if principal.is_resident:
        return redirect(request, "/my")
    cards = await home_cards(principal)
    return render(request, "pages/home.html", HomePage(cards, any(card.duty for card in cards)))


routes = [home]
