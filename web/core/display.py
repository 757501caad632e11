"""How values are shown: labels in the user's language, masks for personal data."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from web.core.i18n import _, current_locale, ngettext
from web.settings import get_settings


def mask_phone(phone: str) -> str:
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_id(id_number: str) -> str:
    if len(id_number) < 8:
        return "*" * len(id_number)
    return id_number[:3] + "*" * (len(id_number) - 7) + id_number[-4:]


def per_locale(build: Callable[[], dict[str, str]]) -> Callable[[str], str]:
    """A label lookup whose table is translated once per language, not once per call
    (a 300-row list asks for thousands of labels)."""
    tables: dict[str, dict[str, str]] = {}

    def label(key: str) -> str:
        locale = current_locale()
        table = tables.get(locale)
        if table is None:
            table = tables[locale] = build()
        return table.get(key, key)

    label.__name__ = build.__name__
    return label


@per_locale
def role_label() -> dict[str, str]:
    return {
        "commander": _("Command centre"),
        "secretary": _("Community secretary"),
        "grid_head": _("Grid head"),
        "party_leader": _("Party-group leader"),
        "building_head": _("Building head"),
        "volunteer": _("Volunteer"),
        "resident": _("Resident"),
    }


@per_locale
def kind_label() -> dict[str, str]:
    return {
        "subdistrict": _("Sub-district"),
        "community": _("Community"),
        "grid": _("Grid"),
        "microgrid": _("Micro-grid"),
        "dwelling": _("Household"),
        "premises": _("Premises"),
        "shed": _("Construction shed"),
        "shopfront": _("Shopfront"),
        "other": _("Other"),
    }


@per_locale
def relation_label() -> dict[str, str]:
    return {
        "head": _("Head of household"),
        "spouse": _("Spouse"),
        "child": _("Child"),
        "parent": _("Parent"),
        "grandchild": _("Grandchild"),
        "relative": _("Relative"),
        "renter": _("Renter"),
        "transient": _("Transient"),
        "visitor": _("Visitor"),
        "other": _("Other"),
    }


@per_locale
def tag_label() -> dict[str, str]:
    return {
        "elderly_alone": _("Elderly, living alone"),
        "disabled": _("Disabled"),
        "pregnant": _("Pregnant"),
        "chronic": _("Chronic illness"),
        "bedridden": _("Bedridden"),
        "renter": _("Renter"),
        "transient": _("Transient"),
    }


@per_locale
def audit_label() -> dict[str, str]:
    from web.core.domain import domains

    declared = {action: label() for domain in domains() for action, label in domain.audit_actions.items()}
    return declared | {
        "reveal": _("Viewed in full"),
        "export": _("Exported"),
        "import": _("Imported a register"),
        "issue_link": _("Made a resident link"),
        "revoke_links": _("Revoked resident links"),
        "create_account": _("Created an account"),
        "revoke_sessions": _("Signed a user out everywhere"),
        "activate": _("Enabled an account"),
        "deactivate": _("Disabled an account"),
        "reset_password": _("Set a new password"),
        "split_grid": _("Split a grid into micro-grids"),
        "start_campaign": _("Started a campaign"),
        "close_campaign": _("Closed a campaign"),
        "isolate": _("Put a household under isolation or changed its dates"),
        "end_isolation": _("Ended a household's isolation"),
        "merge_persons": _("Merged two records of one person"),
    }


@per_locale
def field_label() -> dict[str, str]:
    return {
        "name": _("Full name"),
        "sex": _("Sex"),
        "birth_year": _("Year of birth"),
        "phone": _("Phone"),
        "id_number": _("ID number"),
        "relation": _("Relation to the head of household"),
        "tags": _("Needs attention"),
    }


def field_value(value: Any, key: str) -> str:
    """A person's field as a conflict shows it: phone and ID masked (they differ in the
    digits that are kept)."""
    if value in (None, ""):
        return "—"
    if key == "phone":
        return mask_phone(str(value))
    if key == "id_number":
        return mask_id(str(value))
    return str(value)


def sex_label(sex: str) -> str:
    return {"M": _("Male"), "F": _("Female")}.get(sex, "")


def split_tags(tags: str) -> list[str]:
    return [t for t in (tags or "").split(",") if t]


def age(birth_year: int | None) -> str:
    if not birth_year:
        return ""
    return str(date.today().year - birth_year)


@lru_cache(maxsize=16)
def _address_formats(locale: str) -> tuple[str, str, str]:
    return _("Bldg %(n)s"), _("Unit %(n)s"), _("Room %(n)s")


def household_address(h: dict[str, Any]) -> str:
    """A household's address in the reader's language, from its parts."""
    if h.get("kind") == "premises" and h.get("premises_name"):
        return " · ".join(p for p in (h["premises_name"], h.get("address", "")) if p)
    building, unit, room = h.get("building", ""), h.get("unit", ""), h.get("room", "")
    bldg, unit_fmt, room_fmt = _address_formats(current_locale())
    parts = [
        bldg % {"n": building} if building.isdigit() else building,
        unit_fmt % {"n": unit} if unit.isdigit() else unit,
        room_fmt % {"n": room} if room.isdigit() else room,
        h.get("address", ""),
    ]
    return " ".join(p for p in parts if p) or h.get("door_code", "")


@lru_cache(maxsize=256)
def _count(locale: str, singular: str, plural: str, n: int) -> str:
    return ngettext(singular, plural, n)


def persons(n: int) -> str:
    """"3 persons" in the reader's language; cached, since every list row asks."""
    return _count(current_locale(), "%(num)s person", "%(num)s persons", n)


def when(value: datetime | str | None) -> str:
    """A moment in the community's time zone (GRIDLINE_TZ), whatever the server's is."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(ZoneInfo(get_settings().timezone)).strftime("%Y-%m-%d %H:%M")


FILTERS = {
    "mask_phone": mask_phone,
    "mask_id": mask_id,
    "role_label": role_label,
    "kind_label": kind_label,
    "relation_label": relation_label,
    "tag_label": tag_label,
    "sex_label": sex_label,
    "audit_label": audit_label,
    "field_label": field_label,
    "field_value": field_value,
    "split_tags": split_tags,
    "age": age,
    "address": household_address,
    "when": when,
}
GLOBALS: dict[str, Any] = {"persons": persons}
