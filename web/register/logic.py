"""The household register import: read a grid's spreadsheet, check every row, import.

One row per person; rows with the same address within the target place form one
household. Checking writes nothing; importing writes everything in one transaction.
Uploads wait in the database (`Upload`) between the check and the confirm.

Why one module of ~620 lines: reading, checking and importing share one row model and its
messages (a row refused at the check is refused for the same reason at the import).
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from web import db
from web.core import i18n
from web.core.display import household_address
from web.core.forms import Form
from web.core.i18n import _
from web.core.scope import Scope
from web.core.timeutil import now
from web.households.logic import new_door_code, read_household, read_person, sort_key
from web.households.tables import Household, Person
from web.places.tables import Place
from web.register.tables import Upload

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
MAX_COLUMNS = 64
HEADER_SEARCH_ROWS = 10  # registers often carry a title row or two above the header
BATCH = 1000
SAMPLE_CSV = Path(__file__).resolve().parent / "sample" / "household-register-sample.csv"

# Field → accepted headers; the first is the one the sample uses.
COLUMNS: dict[str, tuple[str, ...]] = {
    "building": ("楼栋/村民组", "楼栋", "村民组", "楼号", "building"),
    "unit": ("单元", "unit"),
    "floor": ("楼层", "floor"),
    "room": ("房号", "房间号", "门牌号", "room"),
    "kind": ("户类型", "kind"),
    "premises_kind": ("场所类型", "premises_kind"),
    "premises_name": ("场所名称", "premises_name"),
    "address": ("地址补充", "地址", "address"),
    "microgrid": ("微网格", "小网格", "microgrid"),
    "name": ("姓名", "name"),
    "sex": ("性别", "sex"),
    "birth_year": ("出生年份", "出生年", "birth_year"),
    "phone": ("手机号", "手机", "联系电话", "phone"),
    "id_number": ("身份证号", "身份证号码", "身份证", "id_number"),
    "relation": ("与户主关系", "关系", "relation"),
    "tags": ("标签", "tags"),
}
REQUIRED = ("name", "building")
PERSON_FIELDS = ("sex", "birth_year", "phone", "id_number", "relation", "tags")
HOUSEHOLD_FIELDS = ("kind", "building", "unit", "floor", "room", "premises_kind", "premises_name", "address")

# Chinese words first (what the sample and the report list), then the codes themselves.
KIND_WORDS = {"住户": "dwelling", "场所": "premises"}
PREMISES_WORDS = {"工棚": "shed", "门面房": "shopfront", "其他": "other"}
SEX_WORDS = {"男": "M", "女": "F", "m": "M", "f": "F", "male": "M", "female": "F"}
RELATION_WORDS = {"户主": "head", "配偶": "spouse", "子女": "child", "父母": "parent", "孙辈": "grandchild",
                  "亲属": "relative", "租户": "renter", "流动人员": "transient", "其他": "other"}
TAG_WORDS = {"独居老人": "elderly_alone", "残疾": "disabled", "孕妇": "pregnant", "慢性病": "chronic",
             "卧床": "bedridden", "租户": "renter", "流动人员": "transient"}
TAG_SEPARATORS = re.compile(r"[;；、,，]")
# An ID number that went through a spreadsheet as a number: 1.10101E+17 and the like.
NUMBER_LIKE_ID = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")


class FileProblem(Exception):
    """The file as a whole cannot be used; the message goes beside the file field."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Table:
    headers: dict[str, str]  # field → the header as written in the file
    rows: list[tuple[int, dict[str, Any]]]  # (spreadsheet row number, field → cell)
    ignored: list[str] = field(default_factory=list)  # headers that name no column we know


@dataclass
class Row:
    number: int
    label: str
    reasons: list[str] = field(default_factory=list)
    person: dict[str, Any] | None = None
    key: tuple | None = None  # the household it belongs to
    problems: set[str] = field(default_factory=set)  # fields already refused

    @property
    def ok(self) -> bool:
        return not self.reasons


@dataclass
class Report:
    rows: list[Row]
    ignored: list[str]
    # address key → household to create ("id" None) or to add persons to
    households: dict[tuple, dict[str, Any]]

    @property
    def good(self) -> list[Row]:
        return [r for r in self.rows if r.ok]

    @property
    def refused(self) -> list[Row]:
        return [r for r in self.rows if not r.ok]

    @property
    def new_households(self) -> int:
        return sum(1 for h in self.households.values() if h["id"] is None)

    @property
    def existing_households(self) -> int:
        return sum(1 for h in self.households.values() if h["id"] is not None and h["persons"])

    @property
    def persons(self) -> int:
        return sum(1 for r in self.good if r.person)


# Reading ------------------------------------------------------------------------------


def _normal(header: str) -> str:
    text = re.split(r"[(（]", str(header))[0]
    return re.sub(r"[\s*＊_\-]", "", text).lower()


HEADER_LOOKUP = {_normal(alias): name for name, aliases in COLUMNS.items() for alias in aliases}


def read_table(filename: str, data: bytes) -> Table:
    """The register in a CSV or XLSX file, or a FileProblem saying what is wrong with it."""
    if not data.strip():
        raise FileProblem(_("This file is empty."))
    if len(data) > MAX_BYTES:
        raise FileProblem(_("The file is larger than 5 MB. Split the register into smaller files."))
    suffix = Path(filename or "").suffix.lower()
    if data.startswith(b"PK\x03\x04"):
        grid = _xlsx_rows(data)
    elif suffix == ".xlsx":
        raise FileProblem(_("This spreadsheet could not be opened. Save it again as .xlsx and upload it again."))
    elif suffix in ("", ".csv", ".txt"):
        grid = _csv_rows(data)
    else:
        raise FileProblem(_("Upload the register as a CSV or XLSX file."))
    return _table(grid)


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text"
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    elif b"\x00" not in data:
        for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                continue
    raise FileProblem(_("This file could not be read as text. Save it as CSV (UTF-8) or XLSX and upload it again."))


def _csv_rows(data: bytes) -> list[tuple[int, list[Any]]]:
    text = _decode(data)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    rows: list[Any] = []
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
            if _collect(rows, number, cells[:MAX_COLUMNS]):
                break
    except csv.Error as error:
        raise FileProblem(_("This file could not be read as text. Save it as CSV (UTF-8) or XLSX and upload it again.")) from error
    return rows


def _xlsx_rows(data: bytes) -> list[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    problem = FileProblem(_("This spreadsheet could not be opened. Save it again as .xlsx and upload it again."))
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged or foreign zip
        raise problem from error
    rows: list[Any] = []
    try:
        sheet = book.worksheets[0]
        for number, cells in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
            if _collect(rows, number, list(cells)):
                break
    except Exception as error:
        raise problem from error
    finally:
        book.close()
    return rows


def _blank(cells: list[Any]) -> bool:
    return all(c is None or str(c).strip() == "" for c in cells)


def _collect(rows: list[tuple[int, list[Any]]], number: int, cells: list[Any]) -> bool:
    """Keep a non-blank row; True once there are enough to tell the file is too long."""
    if not _blank(cells):
        rows.append((number, cells))
    return len(rows) > MAX_ROWS + HEADER_SEARCH_ROWS


def _table(grid: list[tuple[int, list[Any]]]) -> Table:
    header_at, mapping = None, {}
    for index, (_number, cells) in enumerate(grid[:HEADER_SEARCH_ROWS]):
        found = {i: HEADER_LOOKUP.get(_normal(c)) for i, c in enumerate(cells) if c is not None and str(c).strip()}
        if any(f in REQUIRED for f in found.values()):
            header_at, mapping = index, found
            break
    if header_at is None:
        raise FileProblem(_("The file has no column %(columns)s. Check the header row against the sample.",
                            columns=_column_list(REQUIRED)))
    header_cells = grid[header_at][1]
    headers: dict[str, str] = {}
    positions: dict[str, int] = {}
    ignored = []
    for i, name in mapping.items():
        written = str(header_cells[i]).strip()
        if name is None:
            ignored.append(written)
        elif name in headers:
            raise FileProblem(_("The column %(column)s appears more than once.", column=written))
        else:
            headers[name], positions[name] = written, i
    missing = [f for f in REQUIRED if f not in headers]
    if missing:
        raise FileProblem(_("The file has no column %(columns)s. Check the header row against the sample.",
                            columns=_column_list(missing)))
    rows: list[Any] = []
    for number, cells in grid[header_at + 1:]:
        if _blank(cells):
            continue
        if len(rows) == MAX_ROWS:
            raise FileProblem(_("The file has more than %(max)s rows. Split the register into smaller files.",
                                max=f"{MAX_ROWS:,}"))
        rows.append((number, {name: cells[i] if i < len(cells) else None for name, i in positions.items()}))
    if not rows:
        raise FileProblem(_("The file has a header row but no rows below it."))
    return Table(headers=headers, rows=rows, ignored=ignored)


def _column_list(fields: tuple[str, ...] | list[str]) -> str:
    return "、".join(COLUMNS[f][0] for f in fields)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return re.sub(r"\s+", " ", str(value)).strip()


# Checking -----------------------------------------------------------------------------


def _choices(words: dict[str, str]) -> str:
    """The accepted values, as the reader would write them."""
    if i18n.current_locale() == "zh_CN":
        return "、".join(w for w in words if not w.isascii())
    return ", ".join(dict.fromkeys(words.values()))


def _lookup(words: dict[str, str], value: str) -> str | None:
    value = value.strip()
    if value in words:
        return words[value]
    lowered = value.lower()
    if lowered in words.values():
        return lowered
    return words.get(lowered)


def address_key(household: dict[str, Any]) -> tuple:
    """Two rows are one household when these agree (case and spacing aside)."""
    parts = [household["kind"], household["building"], household["unit"], household["floor"], household["room"],
             household["premises_name"], household["address"]]
    return tuple(p.replace(" ", "").casefold() if isinstance(p, str) else p for p in parts)


@dataclass
class _Target:
    place: dict
    microgrids: dict[str, dict]  # name (whole, or the part after "·") → micro-grid
    places: dict[int, dict]  # id → place, for names in reasons


async def _target(place: dict) -> _Target:
    if place["kind"] == "grid":
        micros = await Place.select(Place.id, Place.name, Place.path, Place.kind).where(
            (Place.parent == place["id"]) & (Place.kind == "microgrid")).order_by(Place.id)
    else:
        micros = [place]
    names: dict[str, dict] = {}
    for micro in micros:
        names.setdefault(micro["name"].casefold(), micro)
        names.setdefault(micro["name"].rsplit("·", 1)[-1].strip().casefold(), micro)
    places = {p["id"]: p for p in [place, *micros]}
    return _Target(place=place, microgrids=names, places=places)


def _check_row(number: int, cells: dict[str, Any], headers: dict[str, str], target: _Target) -> tuple[Row, dict | None]:
    """One row on its own: the household it names and the person on it, or reasons."""
    text = {name: _text(cells.get(name)) for name in COLUMNS}
    row = Row(number=number, label="")

    def refuse(name: str, problem: str) -> None:
        if name not in row.problems:
            row.problems.add(name)
            column = headers.get(name, COLUMNS[name][0])
            row.reasons.append(_("%(column)s: %(problem)s", column=column, problem=problem))

    def mapped(name: str, words: dict[str, str], default: str = "") -> str:
        value = text[name]
        if not value:
            return default
        code = _lookup(words, value)
        if code is None:
            refuse(name, _("“%(value)s” is not one of: %(choices)s.", value=value, choices=_choices(words)))
            return value
        return code

    kind_default = "premises" if text["premises_name"] or text["premises_kind"] else "dwelling"
    house_form = Form({
        **{name: text[name] for name in HOUSEHOLD_FIELDS},
        "kind": mapped("kind", KIND_WORDS, kind_default),
        "premises_kind": mapped("premises_kind", PREMISES_WORDS),
    })
    household = read_household(house_form)
    where = household_address({**text, "kind": household["kind"]})
    row.label = " · ".join(p for p in (where, text["name"]) if p)
    for name, problem in house_form.errors.items():
        refuse(name, problem)

    place = target.place
    if text["microgrid"]:
        micro = target.microgrids.get(text["microgrid"].casefold())
        if micro is None:
            refuse("microgrid", _("There is no micro-grid called “%(name)s” in %(place)s.",
                                  name=text["microgrid"], place=target.place["name"]))
        else:
            place = micro
    household.update(place=place["id"], path=place["path"], named_place=bool(text["microgrid"]))

    if text["name"] or any(text[name] for name in PERSON_FIELDS):
        raw_id = cells.get("id_number")
        if isinstance(raw_id, (int, float)) or NUMBER_LIKE_ID.match(text["id_number"]):
            refuse("id_number", _("The spreadsheet stored this ID number as a number and lost digits. "
                                  "Format the column as text and enter it again."))
        tags = []
        for word in (w.strip() for w in TAG_SEPARATORS.split(text["tags"])):
            if word:
                code = _lookup(TAG_WORDS, word)
                if code is None:
                    refuse("tags", _("“%(value)s” is not one of: %(choices)s.", value=word, choices=_choices(TAG_WORDS)))
                else:
                    tags.append(code)
        person_form = Form({
            "name": text["name"], "birth_year": re.sub(r"年$", "", text["birth_year"]),
            "phone": text["phone"], "id_number": text["id_number"],
            "sex": mapped("sex", SEX_WORDS), "relation": mapped("relation", RELATION_WORDS, "other"),
            "tags": ",".join(dict.fromkeys(tags)),
        })
        row.person = read_person(person_form)
        for name, problem in person_form.errors.items():
            refuse(name, problem)
    return row, household


async def _registered_ids(id_numbers: list[str]) -> dict[str, dict]:
    """ID number → where it is registered (path and household address parts)."""
    found: dict[str, dict] = {}
    for start in range(0, len(id_numbers), 500):
        rows = await Person.select(
            Person.id_number, Person.path, Person.household.kind, Person.household.building, Person.household.unit,
            Person.household.room, Person.household.premises_name, Person.household.address,
            Person.household.door_code,
        ).where(Person.id_number.is_in(id_numbers[start:start + 500]))
        for row in rows:
            found.setdefault(row["id_number"], row)
    return found


async def check(table: Table, place: dict, scope: Scope) -> Report:
    """Every row checked against the rules, the file itself and the database; writes nothing."""
    target = await _target(place)
    checked = [(number, *_check_row(number, cells, table.headers, target)) for number, cells in table.rows]

    ids = sorted({r.person["id_number"] for _n, r, _h in checked if r.person and r.person["id_number"]})
    registered = await _registered_ids(ids) if ids else {}
    existing: dict[tuple, dict] = {}
    for h in await Household.select(
        Household.id, Household.place, Household.path, Household.kind, Household.building, Household.unit,
        Household.floor, Household.room, Household.premises_name, Household.address,
    ).where(Household.path.like(f"{place['path']}%")).order_by(Household.id):
        existing.setdefault(address_key(h), h)

    households: dict[tuple, dict] = {}
    first_row_of_id: dict[str, int] = {}
    for number, row, household in checked:
        id_number = row.person["id_number"] if row.person else ""
        if id_number and "id_number" not in row.problems:
            if id_number in first_row_of_id:
                row.reasons.append(_("This ID number is already on row %(row)s of this file.",
                                     row=first_row_of_id[id_number]))
            else:
                first_row_of_id[id_number] = number
                where = registered.get(id_number)
                if where is not None:
                    row.reasons.append(_registered_reason(where, scope))
        if not row.ok or household is None:
            continue
        key = address_key(household)
        home = households.get(key)
        if home is None and key in existing:
            found = existing[key]
            home = {"id": found["id"], "place": found["place"], "path": found["path"], "persons": 0}
        if home is not None and household["named_place"] and home["place"] != household["place"]:
            where = target.places.get(home["place"], target.place)["name"]
            row.reasons.append(_("This address is already in %(place)s, not in the micro-grid this row names.",
                                 place=where))
            continue
        if home is None:
            fields = {name: household[name] for name in HOUSEHOLD_FIELDS}
            home = {"id": None, "place": household["place"], "path": household["path"], "persons": 0, **fields}
        households[key] = home
        row.key = key
        if row.person:
            home["persons"] += 1
    return Report(rows=[r for _n, r, _h in checked], ignored=table.ignored, households=households)


def _registered_reason(where: dict, scope: Scope) -> str:
    # An address outside the user's area is personal data they may not see.
    if scope.covers_path(where["path"]):
        parts = {k.split(".", 1)[1]: v for k, v in where.items() if k.startswith("household.")}
        return _("This ID number is already registered at %(address)s.", address=household_address(parts))
    return _("This ID number is already registered outside your area. Ask your community to check it.")


# Importing ----------------------------------------------------------------------------


async def import_rows(report: Report) -> dict[str, int]:
    """Write the good rows: new households first (ids come back by door code), then persons.
    Runs inside the caller's write transaction when there is one."""
    good = report.good
    homes = list(report.households.values())
    new = [h for h in homes if h["id"] is None]
    grown = sum(1 for h in homes if h["id"] is not None and h["persons"])
    created = now()
    async with db.write():
        for start in range(0, len(new), BATCH):
            chunk = new[start:start + BATCH]
            codes = await _fresh_door_codes(len(chunk))
            await Household.insert(*[
                Household(place=h["place"], path=h["path"], door_code=code, note="", version=1, created_at=created,
                          sort_key=sort_key(h["building"], h["unit"], h["floor"], h["room"]),
                          **{name: h[name] for name in HOUSEHOLD_FIELDS})
                for h, code in zip(chunk, codes)
            ])
            rows = await Household.select(Household.id, Household.door_code).where(Household.door_code.is_in(codes))
            ids = {r["door_code"]: r["id"] for r in rows}
            for h, code in zip(chunk, codes):
                h["id"] = ids[code]
        persons = [
            Person(household=report.households[r.key]["id"], path=report.households[r.key]["path"], note="",
                   version=1, created_at=created, **r.person)
            for r in good if r.person and r.key is not None  # a good row has its household's key
        ]
        for start in range(0, len(persons), BATCH):
            await Person.insert(*persons[start:start + BATCH])
    return {
        "rows": len(good),
        "skipped": len(report.refused),
        "households_new": len(new),
        "households_existing": grown,
        "persons": len(persons),
    }


async def _fresh_door_codes(n: int) -> list[str]:
    codes: list[str] = []
    while len(codes) < n:
        wanted = list(dict.fromkeys(new_door_code() for _ in range(n - len(codes))))
        taken = {r["door_code"] for r in await Household.select(Household.door_code).where(
            Household.door_code.is_in(wanted))}
        codes += [c for c in wanted if c not in taken and c not in codes]
    return codes


# Uploads waiting for a confirm --------------------------------------------------------
# In the database (web/register/tables.py), so every app instance sees the same ones; the
# state moves pending → importing → done by compare-and-set, so one confirm imports it.

UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
KEEP_PENDING = timedelta(days=1)  # an unconfirmed upload (personal data) is gone after a day
KEEP_DONE = timedelta(days=30)  # the "done" record outlives late replays of the confirm


async def save_upload(*, place_id: int, user_id: int | None, filename: str, data: bytes) -> str:
    token = secrets.token_urlsafe(24)
    async with db.write():
        await purge()
        await Upload.insert(Upload(token=token, place=place_id, by_user=user_id, filename=Path(filename).name[:200],
                                   data=data, state="pending", counts="{}", created_at=now()))
    return token


async def load_upload(token: str) -> dict | None:
    """The upload's place, user, file name, state and counts (not its data), or None."""
    if not UPLOAD_ID.match(token):
        return None
    row = await Upload.select(Upload.place, Upload.by_user, Upload.filename, Upload.state, Upload.counts).where(
        Upload.token == token).first()
    if row is None:
        return None
    counts = row["counts"]
    return {"place_id": row["place"], "user_id": row["by_user"], "filename": row["filename"], "state": row["state"],
            "done": (json.loads(counts) if isinstance(counts, str) else counts) if row["state"] == "done" else None}


async def upload_data(token: str) -> bytes | None:
    row = await Upload.select(Upload.data).where((Upload.token == token) & (Upload.state != "done")).first()
    return bytes(row["data"]) if row is not None else None


async def claim(token: str) -> bool:
    """Only one confirm of an upload may import it, even two at once on two instances."""
    async with db.write():
        rows = await db.fetch("UPDATE upload SET state = 'importing' WHERE token = {} AND state = 'pending'"
                              " RETURNING id", token)
    return bool(rows)


async def release(token: str) -> None:
    """The import did not happen: the upload may be confirmed again."""
    async with db.write():
        await db.fetch("UPDATE upload SET state = 'pending' WHERE token = {} AND state = 'importing'", token)


async def finish(token: str, counts: dict[str, int]) -> None:
    """Inside the import's transaction: the upload is done, its file dropped."""
    async with db.write():
        await Upload.update({Upload.state: "done", Upload.counts: json.dumps(counts), Upload.data: b""}).where(
            Upload.token == token)


async def purge() -> None:
    """Inside a write: uploads never confirmed after a day, and done ones after a month."""
    clock = now()
    await Upload.delete().where(((Upload.state != "done") & (Upload.created_at < clock - KEEP_PENDING))
                                | (Upload.created_at < clock - KEEP_DONE))


# The sample ---------------------------------------------------------------------------


def sample_rows() -> list[list[str]]:
    with SAMPLE_CSV.open(encoding="utf-8-sig", newline="") as handle:
        return [row for row in csv.reader(handle)]


@lru_cache(maxsize=1)
def sample_xlsx() -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "住户登记表"
    rows = sample_rows()
    text_columns = {i for i, h in enumerate(rows[0]) if HEADER_LOOKUP.get(_normal(h)) in ("phone", "id_number")}
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values, start=1):
            cell = sheet.cell(row=r, column=c, value=value or None)
            if c - 1 in text_columns:
                cell.number_format = "@"  # so Excel keeps ID numbers whole when someone types more
            if r == 1:
                cell.font = Font(bold=True)
    for c in range(1, len(rows[0]) + 1):
        sheet.column_dimensions[sheet.cell(row=1, column=c).column_letter].width = 20 if c - 1 in text_columns else 12
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
