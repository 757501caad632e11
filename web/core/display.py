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


@per_locale
def _day_words() -> dict[str, str]:
    return {"-1": _("yesterday"), "0": _("today"), "1": _("tomorrow"), "2": _("the day after tomorrow")}


@lru_cache(maxsize=16)
def _calendar(locale: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    weekdays = (_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun"))
    months = (_("Jan"), _("Feb"), _("Mar"), _("Apr"), _("May"), _("Jun"), _("Jul"), _("Aug"), _("Sep"), _("Oct"),
              _("Nov"), _("Dec"))
    # The parts of a day as people say them (上午, 下午…): hours 0, 5, 12, 13, 18 begin one.
    periods = (_("before dawn"), _("morning"), _("noon"), _("afternoon"), _("evening"))
    return weekdays, months, periods


def _local(moment: datetime | str) -> datetime:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(ZoneInfo(get_settings().timezone))


def spoken_day(day: date, today: date | None = None) -> str:
    """A day as people say it: "明天（周六）" / "tomorrow (Sat)", "12月9日（周三）" / "9 Dec (Wed)"."""
    from web.core.timeutil import today as local_today

    weekdays, months, _periods = _calendar(current_locale())
    offset = (day - (today or local_today())).days
    weekday = weekdays[day.weekday()]
    if str(offset) in ("-1", "0", "1", "2"):
        return _("%(day)s (%(weekday)s)", day=_day_words(str(offset)), weekday=weekday)
    return _("%(d)s %(mon)s (%(weekday)s)", d=day.day, m=day.month, mon=months[day.month - 1], weekday=weekday)


def spoken_time(moment: datetime) -> str:
    """A time of day as people say it: "上午8:00", "下午2:20" / "8:00", "14:20"."""
    _weekdays, _months, periods = _calendar(current_locale())
    hour = moment.hour
    period = periods[0 if hour < 5 else 1 if hour < 12 else 2 if hour < 13 else 3 if hour < 18 else 4]
    return _("%(h24)s:%(mm)s", period=period, h24=hour, h12=hour - 12 if hour > 12 else hour,
             mm=f"{moment.minute:02d}")


def spoken_range(start: datetime | str, end: datetime | str, today: date | None = None) -> str:
    """A stretch of time relative to today, in the reader's language and the community's
    time zone: "明天（周六）上午8:00–8:20" / "tomorrow (Sat) 8:00–8:20". The part of the
    day is said again only when it changes ("上午11:40–中午12:00"); the day, when it does."""
    first, last = _local(start), _local(end)
    begins = spoken_time(first)
    if last.date() != first.date():
        ends = _("%(day)s %(time)s", day=spoken_day(last.date(), today), time=spoken_time(last))
    else:
        ends = spoken_time(last)
        _weekdays, _months, periods = _calendar(current_locale())
        for period in periods:  # the same part of the day: said once
            if period and begins.startswith(period) and ends.startswith(period):
                ends = ends[len(period):]
    return _("%(day)s %(start)s–%(end)s", day=spoken_day(first.date(), today), start=begins, end=ends)


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
    "spoken_range": spoken_range,
    "spoken_day": spoken_day,
}
GLOBALS: dict[str, Any] = {"persons": persons}
