"""One declaration per domain (docs/architecture.md, "How to add a domain").

Each `web/<domain>/domain.py` holds `domain = Domain(...)`: its routes, its Piccolo app,
the abilities it adds, the labels its templates use, the pages its users need offline,
its cards on the home page, its tabs in the nav, the tables that copy a household's path
or point at a person, and its periodic chores. The app, Piccolo's registry, the offline
manifest, home, nav, the label filters, grid splits and person merges iterate `domains()`:
adding a domain edits no file outside its own folder, its templates and the catalogue.

The declarations are found by walking `web`'s packages, so the house never imports a
domain by name (a test holds `web/core` and `web/sync` to that).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from piccolo.table import Table


@dataclass(frozen=True)
class Card:
    """A card on a staff member's home page: `template` is rendered with `card` = this
    card, so it reads its figures from `data`. Lower `order` comes first."""

    template: str
    data: Any = None
    order: int = 50
    # A duty of a volunteer's (a site, a shift, a round): a volunteer with none is told so.
    duty: bool = False


@dataclass(frozen=True)
class NavEntry:
    """A tab: shown to a signed-in staff member who holds `ability` somewhere (all when
    None); current on `href` itself, or on every path under `prefix` when given."""

    href: str
    label: Callable[[], str]  # translated when shown, e.g. lambda: _("Campaigns")
    ability: str | None = None
    order: int = 50
    prefix: str | None = None

    def current(self, path: str) -> bool:
        return path == self.href or (self.prefix is not None and path.startswith(self.prefix))


@dataclass(frozen=True)
class PathCopy:
    """A table whose `path` copies its household's path: when a household moves (a grid
    splits into micro-grids, a person merges into another household), its rows follow.
    `household` names the column that points at the household (None for `household`
    itself, whose own id is the household)."""

    table: type[Table]
    household: str | None = "household"
    # Rows a household granted outright may read (a resident's own household and persons).
    grants_household: bool = False


@dataclass(frozen=True)
class PersonRef:
    """A column pointing at a person. Merging two records of one person moves these rows
    to the kept record; `merge` is for tables that hold one row per person (a status):
    it is called inside the merge's transaction with (kept person row, dropped id) and
    must leave no row pointing at the dropped id."""

    table: type[Table]
    column: str = "person"
    merge: Callable[[dict, int], Awaitable[None]] | None = None
    # Facts recorded about the person (a campaign's answers): counted where a pair is compared.
    facts: bool = False


@dataclass(frozen=True)
class Chore:
    """A periodic chore: `run(period_start)` once per `every` across all app instances
    (the period is claimed in the database, web/sync/chores.py)."""

    name: str
    every: timedelta
    run: Callable[[datetime], Awaitable[Any]]


OfflineUrls = Callable[[Any], Awaitable[Iterable[str]]]  # principal -> URLs
HomeCards = Callable[[Any], Awaitable[Iterable[Card]]]  # principal -> cards


@dataclass(frozen=True)
class Domain:
    name: str
    routes: Sequence[Any] = ()
    piccolo_app: str | None = None  # dotted path of the domain's piccolo_app module
    abilities: Mapping[str, Iterable[str]] = field(default_factory=dict)  # ability -> roles
    labels: Mapping[str, Callable[..., Any]] = field(default_factory=dict)  # Jinja filter name -> function
    offline_urls: OfflineUrls | None = None
    home_cards: HomeCards | None = None
    nav: Sequence[NavEntry] = ()
    path_copies: Sequence[PathCopy] = ()
    person_refs: Sequence[PersonRef] = ()
    # Tables with a `path` that is not a household's copy (a place's own, a grid's, a URL):
    # they stay when households move. With `path_copies`, every table with a path is named.
    fixed_paths: Sequence[type[Table]] = ()
    chores: Sequence[Chore] = ()
    # Template globals (lists a form offers, e.g. relations); labels are filters and globals both.
    template_globals: Mapping[str, Any] = field(default_factory=dict)
    # Audit log actions this domain records -> their label (a function: translated when shown).
    audit_actions: Mapping[str, Callable[[], str]] = field(default_factory=dict)
    # The domain that keeps sessions: token, idle days -> the Principal or None.
    load_principal: Callable[[str, int], Awaitable[Any]] | None = None
    # Order among domains (routes, migrations: a domain whose tables others refer to first).
    order: int = 50


@cache
def domains() -> tuple[Domain, ...]:
    """Every domain's declaration, in `order`, found by walking `web`'s packages."""
    import web

    found = []
    for info in pkgutil.iter_modules(web.__path__):
        if not info.ispkg or info.name in ("core", "translations"):
            continue
        try:
            module = importlib.import_module(f"web.{info.name}.domain")
        except ModuleNotFoundError as missing:
            if missing.name != f"web.{info.name}.domain":
                raise
            continue
        declared = getattr(module, "domain", None)
        if not isinstance(declared, Domain):
            raise TypeError(f"web/{info.name}/domain.py must define `domain = Domain(...)`")
        found.append(declared)
    return tuple(sorted(found, key=lambda d: (d.order, d.name)))


@cache
def abilities() -> dict[str, frozenset[str]]:
    """What each role may do, at the places it covers: every domain's abilities merged."""
    merged: dict[str, set[str]] = {}
    for domain in domains():
        for ability, roles in domain.abilities.items():
            merged.setdefault(ability, set()).update(roles)
    return {ability: frozenset(roles) for ability, roles in merged.items()}


def labels() -> dict[str, Callable[..., Any]]:
    merged: dict[str, Callable[..., Any]] = {}
    for domain in domains():
        for name, function in domain.labels.items():
            if name in merged and merged[name] is not function:
                raise ValueError(f"two domains declare the label filter {name!r}")
            merged[name] = function
    return merged


def template_globals() -> dict[str, Any]:
    return {name: value for domain in domains() for name, value in {**domain.labels, **domain.template_globals}.items()}


@cache
def session_loader() -> Callable[[str, int], Awaitable[Any]]:
    loaders = [d.load_principal for d in domains() if d.load_principal is not None]
    if len(loaders) != 1:
        raise RuntimeError(f"exactly one domain keeps sessions, found {len(loaders)}")
    return loaders[0]


def nav_entries() -> list[NavEntry]:
    return sorted((entry for domain in domains() for entry in domain.nav), key=lambda e: e.order)


def path_copies() -> list[PathCopy]:
    return [copy for domain in domains() for copy in domain.path_copies]


def fixed_paths() -> list[type[Table]]:
    return [table for domain in domains() for table in domain.fixed_paths]


def person_refs() -> list[PersonRef]:
    return [ref for domain in domains() for ref in domain.person_refs]


def chores() -> list[Chore]:
    return [chore for domain in domains() for chore in domain.chores]


async def offline_urls(principal: Any) -> list[str]:
    """The pages of this user's current work, to be saved on the phone: every domain's."""
    urls = ["/", "/sync", "/offline"]
    for domain in domains():
        if domain.offline_urls is not None:
            urls += await domain.offline_urls(principal)
    return list(dict.fromkeys(urls))


async def home_cards(principal: Any) -> list[Card]:
    cards: list[Card] = []
    for domain in domains():
        if domain.home_cards is not None:
            cards += await domain.home_cards(principal)
    return sorted(cards, key=lambda c: c.order)
