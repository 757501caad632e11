"""Facts → status, the one way (docs/architecture.md, docs/offline.md).

Field work is recorded as append-only fact rows (a visit, an answer, a check-in, a stop
done): each keeps when it happened on the phone (`occurred_at`), when the server got it
(`received_at`), who (`by_user`) and from where (`source`). Two phones at one door both
keep their record, so offline writes merge. What a page shows is a status row per
subject that holds the latest fact, so lists count one index and never scan history.

The rules every domain shares live here:

- **Latest by occurred time.** A fact moves the status only when it happened at or after
  what the status holds (ties: the later arrival), so replays in any order end the same.
- **Source precedence.** A fact verified in person (a head at the door, a volunteer at a
  site) outranks an unverified one (a resident's self-report, an import), whatever their
  times: a later self-report never replaces what was verified. It waits beside it, to be
  confirmed by the next verified fact.
- **Concurrent writers.** On PostgreSQL (READ COMMITTED, a pool of connections) two
  transactions moving one subject's status take the subject's advisory lock first, so
  they queue and end as some serial order would. SQLite runs one write at a time already.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from web import db

# Where a fact comes from, by how much it is trusted.
VERIFIED = frozenset({"head", "site"})  # seen in person: at the door, at the sampling site
UNVERIFIED = frozenset({"self", "import"})  # the resident's own link, a register import
SOURCES = tuple(sorted(VERIFIED | UNVERIFIED))


def rank(source: str) -> int:
    return 1 if source in VERIFIED else 0


def _moment(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)  # SQLite gives text through plain SQL


def newer(current_at: Any, occurred: datetime) -> bool:
    """Does a fact at `occurred` supersede a status stamped `current_at`? (Ties: the later
    arrival, which is the one being applied.)"""
    current = _moment(current_at)
    return current is None or occurred >= current


def wins(fact: Mapping[str, Any], over: Mapping[str, Any] | None) -> bool:
    """Does `fact` win over `over` (both with `source` and `occurred_at`, and `id` for a
    tie)? Verified outranks unverified; then the later occurred time; then the later row."""
    if over is None:
        return True
    if rank(fact["source"]) != rank(over["source"]):
        return rank(fact["source"]) > rank(over["source"])
    a, b = _moment(fact["occurred_at"]), _moment(over["occurred_at"])
    if a != b:
        return a > b  # type: ignore[operator]
    return fact.get("id", 0) >= over.get("id", 0)


def _order(fact: Mapping[str, Any]) -> tuple:
    """When a fact happened; a tie goes to the later row (the later arrival)."""
    return (_moment(fact["occurred_at"]), fact.get("id", 0))


def latest(facts: Iterable[Mapping[str, Any]], key: Sequence[str]) -> dict[tuple, dict]:
    """The winning fact per `key` (e.g. ("person", "item")), and under "newer_unverified"
    the unverified fact that came after a verified winner and says something else (what
    the resident said since, for a head to confirm)."""
    best: dict[tuple, dict] = {}
    unverified: dict[tuple, dict] = {}
    for fact in facts:
        k = tuple(fact[name] for name in key)
        if wins(fact, best.get(k)):
            best[k] = dict(fact)
        if fact["source"] in UNVERIFIED and (k not in unverified or _order(fact) >= _order(unverified[k])):
            unverified[k] = dict(fact)
    for k, winner in best.items():
        later = unverified.get(k)
        if (winner["source"] in VERIFIED and later is not None and later.get("value") != winner.get("value")
                and _order(later) > _order(winner)):
            winner["newer_unverified"] = later
    return best


def differs(given: Mapping[str, str], verified: Mapping[str, str] | None) -> bool:
    """Does an unverified report say anything the verified facts do not (or not yet)?"""
    return verified is None or any(verified.get(item) != value for item, value in given.items())


def _int4(text: str) -> int:
    return zlib.crc32(text.encode()) - 2**31


async def hold(kind: str, *subject: int) -> None:
    """Inside a write: queue behind any other transaction moving this subject's status
    (PostgreSQL's transaction-scoped advisory lock, keyed by kind and subject; nothing to
    do on SQLite, whose writes run one at a time)."""
    if db.engine().engine_type not in ("postgres", "cockroach"):
        return
    await db.fetch("SELECT pg_advisory_xact_lock({}, {})", _int4(kind), _int4(":".join(map(str, subject))))


_UPSERTS: dict[tuple, str] = {}


async def put_status(table: str, unique: Sequence[str], values: Mapping[str, Any]) -> None:
    """Write a subject's status row (`unique` names the subject's columns, a unique index):
    inserted, or the existing row updated, in one statement."""
    columns = tuple(values)
    key = (table, tuple(unique), columns)
    sql = _UPSERTS.get(key)
    if sql is None:
        updated = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in unique)
        sql = _UPSERTS[key] = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('{}' for _ in columns)})"
            f" ON CONFLICT ({', '.join(unique)}) DO UPDATE SET {updated}")
    await db.fetch(sql, *values.values())
