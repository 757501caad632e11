"""The house's shape (docs/architecture.md): domains declare themselves; the house never
reaches up into a domain; every table that copies a household's path or points at a
person is registered, so a grid split and a person merge walk every one of them."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest
from piccolo.columns import ForeignKey

from web import db
from web.core import domain as domains
from web.core.auth import Principal
from web.core.render import install_domains

WEB = Path(__file__).resolve().parent.parent / "web"
HOUSE = ("core", "sync")  # the shared mechanisms: they import no domain
# The one exception: the offline engine's records say which account did it (a foreign key).
ALLOWED = {("sync/tables.py", "web.accounts.tables")}


def _domain_packages() -> set[str]:
    return {p.name for p in WEB.iterdir() if (p / "__init__.py").exists() and p.name not in (*HOUSE, "translations")}


def house_imports_of_domains(root: Path = WEB) -> list[str]:
    """Every `import web.<domain>…` (at any depth of a function too) in web/core and web/sync."""
    packages = _domain_packages()
    found = []
    for folder in HOUSE:
        for source in sorted((root / folder).rglob("*.py")):
            if "migrations" in source.parts:
                continue  # a migration names the tables it moves, by design
            for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                for name in names:
                    parts = name.split(".")
                    where = str(source.relative_to(root))
                    if len(parts) > 1 and parts[0] == "web" and parts[1] in packages and (where, name) not in ALLOWED:
                        found.append(f"{where}:{node.lineno} imports {name}")
    return found


def test_the_house_imports_no_domain():
    assert house_imports_of_domains() == []


def test_the_check_catches_a_house_module_that_imports_a_domain(tmp_path):
    for folder in HOUSE:
        (tmp_path / folder).mkdir()
    (tmp_path / "core" / "bad.py").write_text("def f():\n    from web.households.tables import Person\n")
    assert house_imports_of_domains(tmp_path) == ["core/bad.py:2 imports web.households.tables"]


def test_every_domain_package_declares_itself():
    declared = {d.name for d in domains.domains()}
    assert declared == _domain_packages() | {"sync"}  # sync has pages and tables of its own


def test_every_piccolo_app_is_a_domains():
    apps = {p.parent.name for p in WEB.glob("*/piccolo_app.py")}
    assert {d.piccolo_app.split(".")[1] for d in domains.domains() if d.piccolo_app} == apps


def test_every_ability_a_route_or_template_asks_for_is_declared():
    asked = set()
    for source in [*WEB.rglob("*.py"), *(WEB.parent / "components").rglob("*.html")]:
        text = source.read_text(encoding="utf-8")
        for marker in ('able("', 'can("', 'places_for("'):
            for piece in text.split(marker)[1:]:
                asked.add(piece.split('"', 1)[0])
    assert asked - set(domains.abilities()) == set()


def _tables() -> list[type]:
    return db.all_tables()


def test_every_table_with_a_path_is_registered_as_a_household_copy_or_a_fixed_path():
    registered = {c.table for c in domains.path_copies()} | set(domains.fixed_paths())
    unregistered = [t.__name__ for t in _tables() if "path" in {c._meta.name for c in t._meta.columns}
                    and t not in registered]
    assert unregistered == []


def test_every_column_pointing_at_a_person_is_registered():
    from web.households.tables import Person

    registered = {(r.table, r.column) for r in domains.person_refs()}
    pointing = [(t, c._meta.name) for t in _tables() for c in t._meta.columns
                if isinstance(c, ForeignKey) and c._foreign_key_meta.resolved_references is Person]
    assert pointing and [f"{t.__name__}.{c}" for t, c in pointing if (t, c) not in registered] == []


def test_household_copies_name_a_household_column():
    for copy in domains.path_copies():
        names = {c._meta.name for c in copy.table._meta.columns}
        assert "path" in names
        assert copy.household is None or copy.household in names


def test_a_label_filter_declared_twice_is_refused(monkeypatch):
    first = domains.Domain(name="a", labels={"x_label": lambda key: key})
    second = domains.Domain(name="b", labels={"x_label": lambda key: key.upper()})
    monkeypatch.setattr(domains, "domains", lambda: (first, second))
    with pytest.raises(ValueError, match="x_label"):
        domains.labels()


def test_a_new_domain_is_found_by_its_declaration_alone(tmp_path, monkeypatch):
    """A throw-away domain written only into its own folder: routes, an ability, a nav
    tab, a home card and offline URLs come in with no other file edited."""
    import sys

    import web

    package = tmp_path / "web" / "notices"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "domain.py").write_text(
        "from litestar import get\n"
        "from web.core.domain import Card, Domain, NavEntry\n\n"
        "@get('/notices')\nasync def notices() -> str:\n    return 'notices'\n\n"
        "async def urls(principal):\n    return ['/notices']\n\n"
        "async def cards(principal):\n    return [Card('notices/home.html', order=1)]\n\n"
        "domain = Domain(name='notices', routes=[notices], abilities={'read_notices': {'volunteer'}},\n"
        "                nav=[NavEntry('/notices', lambda: 'Notices')], offline_urls=urls, home_cards=cards)\n")
    monkeypatch.setattr(web, "__path__", [*web.__path__, str(tmp_path / "web")])
    domains.domains.cache_clear()
    domains.abilities.cache_clear()
    try:
        found = {d.name: d for d in domains.domains()}
        assert "notices" in found and "households" in found
        assert domains.abilities()["read_notices"] == frozenset({"volunteer"})
        assert "/notices" in [e.href for e in domains.nav_entries()]
        assert "/notices" in asyncio.run(domains.offline_urls(Principal(session_id=0)))
        from web.app import create_app

        app = create_app()
        assert "/notices" in {route.path for route in app.routes}
    finally:
        monkeypatch.undo()
        sys.modules.pop("web.notices.domain", None)
        sys.modules.pop("web.notices", None)
        domains.domains.cache_clear()
        domains.abilities.cache_clear()
        install_domains()  # the templates' nav as it was
