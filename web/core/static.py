"""Static files with content-hashed names, served from memory.

`static_url("app.css")` gives `/static/app.1a2b3c4d.css`; that name changes whenever
the bytes do, so every file can be cached for a year and a phone on a slow link
fetches each byte once.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"

mimetypes.add_type("application/manifest+json", ".webmanifest")
mimetypes.add_type("text/javascript", ".js")


@dataclass(frozen=True)
class StaticFile:
    name: str
    url: str
    body: bytes
    media_type: str


def _versioned(name: str, digest: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{digest}.{ext}" if dot else f"{name}.{digest}"


def _scan() -> tuple[dict[str, StaticFile], dict[str, StaticFile]]:
    by_name: dict[str, StaticFile] = {}
    by_url: dict[str, StaticFile] = {}
    for path in sorted(STATIC_DIR.rglob("*")):
        if not path.is_file() or path.name.startswith(".") or path.suffix in (".txt", ".md", ".py"):
            continue
        name = path.relative_to(STATIC_DIR).as_posix()
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:10]
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if media_type.startswith("text/") or media_type.endswith(("javascript", "json", "svg+xml")):
            media_type += "; charset=utf-8"
        item = StaticFile(name, "/static/" + _versioned(name, digest), body, media_type)
        by_name[name] = item
        by_url[item.url] = item
    return by_name, by_url


_by_name, _by_url = _scan()


def add_generated(name: str, body: bytes) -> None:
    """A static file made at start-up rather than read from disk (e.g. translated texts)."""
    digest = hashlib.sha256(body).hexdigest()[:10]
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type.endswith(("javascript", "json")):
        media_type += "; charset=utf-8"
    old = _by_name.get(name)
    if old is not None:
        _by_url.pop(old.url, None)
    item = StaticFile(name, "/static/" + _versioned(name, digest), body, media_type)
    _by_name[name] = item
    _by_url[item.url] = item


def static_url(name: str) -> str:
    return _by_name[name].url


def lookup(url_path: str) -> StaticFile | None:
    return _by_url.get(url_path)


def shell_urls() -> list[str]:
    """What the service worker precaches: every static file (they are small)."""
    return sorted(item.url for item in _by_name.values() if not item.name.endswith(".map"))


def fingerprint() -> str:
    """Changes whenever any static file does; part of the service worker's version."""
    return hashlib.sha256("".join(shell_urls()).encode()).hexdigest()[:12]
