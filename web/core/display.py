"""How values are shown: labels in the user's language, masks for personal data."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from web.core.i18n import _


def mask_phone(phone: str) -> str:
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_id(id_number: str) -> str:
    if len(id_number) < 8:
        return "*" * len(id_number)
    return id_number[:3] + "*" * (len(id_number) - 7) + id_number[-4:]


# Labels are looked up at render time so each request gets its own language.
def role_label(role: str) -> str:
    return {
        "commander": _("Command centre"),
        "secretary": _("Community secretary"),
        "grid_head": _("Grid head"),
        "party_leader": _("Party-group leader"),
        "building_head": _("Building head"),
        "volunteer": _("Volunteer"),
        "resident": _("Resident"),
    }.get(role, role)


def kind_label(kind: str) -> str:
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
    }.get(kind, kind)


def relation_label(relation: str) -> str:
    return {
        "head": _("Head of household"),
        "spouse": _("Spouse"),
        "child": _("Child"),
        "parent": _("Parent"),
        "grandchild": _("Grandchild"),
        "relative": _("Relative"),
        "renter": _("Renter"),
        "transient": _("Transient"),
        "other": _("Other"),
    }.get(relation, relation)


def tag_label(tag: str) -> str:
    return {
        "elderly_alone": _("Elderly, living alone"),
        "disabled": _("Disabled"),
        "pregnant": _("Pregnant"),
        "chronic": _("Chronic illness"),
        "bedridden": _("Bedridden"),
        "renter": _("Renter"),
        "transient": _("Transient"),
    }.get(tag, tag)


def audit_label(action: str) -> str:
    return {
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
    }.get(action, action)


def field_label(name: str) -> str:
    return {
        "name": _("Name"),
        "sex": _("Sex"),
        "birth_year": _("Year of birth"),
        "phone": _("Phone"),
        "id_number": _("ID number"),
        "relation": _("Relation to the head of household"),
        "tags": _("Needs attention"),
    }.get(name, name)


def sex_label(sex: str) -> str:
    return {"M": _("Male"), "F": _("Female")}.get(sex, "")


def split_tags(tags: str) -> list[str]:
    return [t for t in (tags or "").split(",") if t]


def age(birth_year: int | None) -> str:
    if not birth_year:
        return ""
    return str(date.today().year - birth_year)


def household_address(h: dict[str, Any]) -> str:
    """A household's address in the reader's language, from its parts."""
    if h.get("kind") == "premises" and h.get("premises_name"):
        return " · ".join(p for p in (h["premises_name"], h.get("address", "")) if p)
    building, unit, room = h.get("building", ""), h.get("unit", ""), h.get("room", "")
    parts = [
        _("Bldg %(n)s", n=building) if building.isdigit() else building,
        _("Unit %(n)s", n=unit) if unit.isdigit() else unit,
        _("Room %(n)s", n=room) if room.isdigit() else room,
        h.get("address", ""),
    ]
    return " ".join(p for p in parts if p) or h.get("door_code", "")


def when(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


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
    "split_tags": split_tags,
    "age": age,
    "address": household_address,
    "when": when,
}
def relations() -> list[tuple[str, str]]:
    from web.households.tables import RELATIONS

    return [(r, relation_label(r)) for r in RELATIONS]


def _person_tags() -> tuple[str, ...]:
    from web.households.tables import PERSON_TAGS

    return PERSON_TAGS


GLOBALS: dict[str, Any] = {"relations": relations, "person_tags": _person_tags()}
