"""Data for the HTTP and data tests, found in (or added to) the shared demo world: one
place for the look-ups every test module needs, so no test module imports another."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from tests.conftest import ORIGIN

from web.accounts.tables import RoleGrant
from web.campaigns import logic as campaigns
from web.campaigns.tables import Campaign
from web.households.tables import Household, Person
from web.places.tables import Place
from web.sync.tables import IdempotencyRecord


def run(call, query) -> Any:
    """Await a Piccolo query (or any awaitable) on the app's own event loop."""

    async def go():
        return await query

    return call(go)


def place_of(call, username: str) -> dict:
    """The place where a demo user holds their (first) role."""
    grant = run(call, RoleGrant.select(RoleGrant.place).where(RoleGrant.user.username == username).first())
    return run(call, Place.select().where(Place.id == grant["place"]).first())


def new_campaign(call, place: dict, checks: str = "present,sampled,code,doses", questions=(),
                 kind: str = "testing_round") -> dict:
    """An open campaign over `place`, due tomorrow."""
    values = {"name": f"Round {uuid.uuid4().hex[:6]}", "kind": kind, "checks": checks,
              "deadline": datetime.now(timezone.utc) + timedelta(days=1), "questions": list(questions)}
    campaign_id = call(campaigns.create_campaign, values, place, None)
    return run(call, Campaign.select().where(Campaign.id == campaign_id).first())


def household_in(call, place: dict, offset: int = 0) -> dict:
    """The offset-th household with somebody registered under `place`, in walking order
    (other tests may have emptied some)."""
    occupied = run(call, Person.select(Person.household).where(Person.path.like(place["path"] + "%")).distinct())
    return run(call, Household.select().where(Household.path.like(place["path"] + "%")
                                              & Household.id.is_in([p["household"] for p in occupied]))
               .order_by(Household.sort_key).offset(offset).first())


def a_household(call, offset: int, inside: bool = True) -> dict:
    """A household of the first grid (the grid head's), or, `inside=False`, one outside it."""
    grid = run(call, Place.select().where(Place.kind == "grid").order_by(Place.id).first())
    under = Household.path.like(grid["path"] + "%") if inside else Household.path.not_like(grid["path"] + "%")
    return run(call, Household.select().where(under).order_by(Household.id).offset(offset).first())


def members(call, household_id: int) -> list[dict]:
    return run(call, Person.select().where(Person.household == household_id).order_by(Person.id))


# ---- queued writes, as the service worker keeps and sends them (POST /sync/batch) ---------------


def count(call, household_id: int, prefix: str) -> int:
    return run(call, Person.count().where((Person.household == household_id) & Person.name.like(prefix + "%")))


def records(call, keys: list[str]) -> int:
    return run(call, IdempotencyRecord.count().where(IdempotencyRecord.key.is_in(keys)))


def entry(household_id: int, name: str, key: str | None = None, url: str | None = None, **headers: str) -> dict:
    """A write as the service worker keeps it."""
    return {
        "method": "POST",
        "url": url or f"{ORIGIN}/households/{household_id}/persons",
        "headers": {"content-type": "application/x-www-form-urlencoded", "hx-request": "true",
                    "idempotency-key": key or str(uuid.uuid4()), **headers},
        "body": urlencode({"name": name, "relation": "other"}),
    }


def send(client, entries: list[dict], **headers: str):
    return client.post("/sync/batch", json={"entries": entries}, headers=headers)


def results(response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()["results"]
