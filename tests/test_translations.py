"""Every user-facing string has a Chinese translation (Chinese is the default language)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
METHODS = [("web/**.py", "python"), ("components/**.html", "jinja2")]
OPTIONS = {"components/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def extracted() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), METHODS, options_map=OPTIONS, keywords=KEYWORDS,
        callback=lambda *a: None,
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_string_has_a_chinese_translation():
    with (ROOT / "web/translations/zh_CN/LC_MESSAGES/messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="zh_CN")
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id and (m.string if isinstance(m.string, str) else all(m.string))
    }
    messages = extracted()
    assert len(messages) > 100  # the extraction itself works
    missing = sorted(messages - translated)
    assert not missing, "untranslated (run `make messages`, then translate): " + "; ".join(missing)
