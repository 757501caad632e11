"""Translations: Babel catalogues under web/translations, chosen per request.

Message ids are English; zh_CN is the default language. The .po files are read at
start-up (no compiled .mo files to keep in step).
"""

from __future__ import annotations

import contextvars
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LANG_COOKIE = "gl_lang"
# The value for <html lang> and the label on the language switch.
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}
CATALOGUE_DIR = Path(__file__).resolve().parent.parent / "translations"


def _load(locale: str) -> Translations:
    po = CATALOGUE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return Translations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


_catalogues: dict[str, Translations] = {}
_current: contextvars.ContextVar[str] = contextvars.ContextVar("locale", default=DEFAULT_LOCALE)


def catalogue(locale: str) -> Translations:
    if locale not in _catalogues:
        _catalogues[locale] = _load(locale)
    return _catalogues[locale]


def set_locale(locale: str) -> None:
    _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


def current_locale() -> str:
    return _current.get()


def gettext(message: str, **variables: object) -> str:
    text = catalogue(_current.get()).ugettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    text = catalogue(_current.get()).ungettext(singular, plural, n)
    variables.setdefault("num", n)
    return text % variables


_ = gettext


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """A chosen language (cookie) wins, then the browser's first supported one, then Chinese."""
    if cookie in LOCALES:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh_CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LOCALE
