"""Door plates: the short code on a household's door, where it leads, and its QR code.

A plate's QR holds `<base>/d/<code>`, so a phone's own camera app opens it too; the code
is printed beside it to be typed where no camera scans. A code leads to the sweep form
of the newest open campaign over the household when the user may sweep there, else to
the household's page.
"""

from __future__ import annotations

import re
from functools import lru_cache

import segno

from web.accounts.auth import Principal
from web.campaigns.logic import campaigns_over
from web.campaigns.tables import Campaign
from web.core.scope import Scope
from web.households.logic import DOOR_ALPHABET, LIST_COLUMNS
from web.households.tables import Household
from web.places.tables import Place
from web.households.logic import MAX_PREPARED_HOUSEHOLDS

CODE_LENGTH = 8
_SHAPE = re.compile(f"^[{DOOR_ALPHABET}]{{{CODE_LENGTH}}}$")
_IN_URL = re.compile(r"/d/([^/?#]+)", re.IGNORECASE)
# A page set is printed per grid (~300 households); beyond this, per micro-grid.
MAX_PLATES = 1000
PLATES_PER_SHEET = 8  # A4, 2 × 4


def normalise(text: str) -> str:
    """What was typed or scanned, as a code: the URL form accepted, spaces and dashes
    dropped, upper case. The same rules as app.js."""
    text = (text or "").strip()
    found = _IN_URL.search(text)
    if found:
        text = found.group(1)
    return re.sub(r"[\s\-]+", "", text).upper()


def well_formed(code: str) -> bool:
    return bool(_SHAPE.match(code))


async def find_household(code: str, scope: Scope) -> dict | None:
    """The household with this door code, if the user's scope holds it."""
    if not well_formed(code):
        return None
    return await Household.select(Household.id, Household.path).where(Household.door_code == code).where(
        scope.where(Household)).first()


def _sweep_or_page(principal: Principal, household: dict, open_campaigns: list[dict]) -> str:
    """`open_campaigns`: newest first, each over this household's place or above it."""
    if open_campaigns and principal.can("sweep", household["path"]):
        return f"/campaigns/{open_campaigns[0]['id']}/households/{household['id']}"
    return f"/households/{household['id']}"


async def destination(principal: Principal, household: dict) -> str:
    return _sweep_or_page(principal, household, await campaigns_over(household["path"]))


async def doors_of(principal: Principal) -> list[tuple[str, str]]:
    """(code, where it leads) for the households in the user's scope, whole places in
    walking order, as many as a phone prepares: the scan page opens these offline."""
    households = await (
        Household.select(Household.id, Household.path, Household.door_code)
        .where(principal.scope.where(Household))
        .order_by(Household.path, Household.sort_key)
        .limit(MAX_PREPARED_HOUSEHOLDS)
    )
    if not households:
        return []
    campaigns = await Campaign.select(Campaign.id, Campaign.path).where(Campaign.status == "open").order_by(
        Campaign.id, ascending=False)
    return [(h["door_code"], _sweep_or_page(principal, h, [c for c in campaigns if h["path"].startswith(c["path"])]))
            for h in households]


# ---- plates ---------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def qr_svg(url: str) -> str:
    """The plate's QR as inline SVG, sized by CSS (segno takes a few ms: a reprint is free)."""
    return segno.make(url, error="m").svg_inline(omitsize=True, dark="#000", light="#fff")


async def households_for_plates(prefix: str, scope: Scope, limit: int = MAX_PLATES) -> list[dict]:
    return await (
        Household.select(*LIST_COLUMNS)
        .where(Household.path.like(f"{prefix}%"))
        .where(scope.where(Household))
        .order_by(Household.path, Household.sort_key)
        .limit(limit)
    )


async def count_under(prefix: str, scope: Scope) -> int:
    return await Household.count().where(Household.path.like(f"{prefix}%")).where(scope.where(Household))


async def with_grid_names(households: list[dict]) -> list[dict]:
    """Each household with the name of the grid it sits in (`grid`), for its plate."""
    ids = {int(p) for h in households for p in h["path"].strip("/").split("/")}
    grids = {row["id"]: row["name"] for row in await Place.select(Place.id, Place.name).where(
        Place.id.is_in(sorted(ids) or [-1]) & (Place.kind == "grid"))}
    for h in households:
        h["grid"] = next((grids[int(p)] for p in h["path"].strip("/").split("/") if int(p) in grids), "")
    return households


def sheets(plates: list[dict]) -> list[list[dict]]:
    return [plates[i:i + PLATES_PER_SHEET] for i in range(0, len(plates), PLATES_PER_SHEET)]
