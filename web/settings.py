"""All configuration in one typed object, read from the environment once."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    # Directory that holds the SQLite file, generated keys and uploads.
    data_dir: Path = field(default_factory=lambda: Path("data"))
    # Empty means the embedded SQLite file; postgresql://… selects PostgreSQL.
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    # Sessions last this long since last use; a lost phone is cut off by revoking.
    session_idle_days: int = 14
    # Failed sign-ins allowed per username and per address inside the window.
    signin_attempts: int = 8
    signin_window_minutes: int = 15
    # Cookies marked Secure: set GRIDLINE_SECURE_COOKIES=1 behind HTTPS (the default serves
    # plain http on 127.0.0.1 for `make run` and the tests).
    secure_cookies: bool = False
    # Deployed build label: part of the service worker's version, so a release that
    # changes no static file still reaches phones as an update.
    build: str = ""
    # Times are shown in the community's zone, whatever the server's clock zone is.
    timezone: str = "Asia/Shanghai"
    # The address residents and plates use (https://…): links and QR codes printed on doors
    # must not carry whatever host a proxy in front forwarded. Empty: the request's own.
    public_url: str = ""
    # A write's first answer is kept in full this long, for a phone that lost it and sends
    # the write again; then only its status and where it led (the record itself stays,
    # so a write is never applied twice however late a phone comes back).
    answer_days: int = 7
    # Self-reports a household may send per campaign in an hour (residents'
    # requests are rate-limited; a household link may have leaked).
    self_reports_per_hour: int = 10
    # Addresses of the reverse proxies in front (GRIDLINE_TRUSTED_PROXIES, comma-separated):
    # only a request from one of them is taken at its X-Forwarded-For word for the client's
    # address (what sign-in throttling counts); anyone else could forge that header.
    trusted_proxies: frozenset[str] = frozenset()
    debug: bool = False

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "gridline.sqlite3"

    @property
    def engine_kind(self) -> str:
        return "postgres" if self.database_url.startswith(("postgres://", "postgresql://")) else "sqlite"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        return cls(
            data_dir=Path(env.get("GRIDLINE_DATA", "data")),
            database_url=env.get("DATABASE_URL", ""),
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", "8000")),
            session_idle_days=int(env.get("GRIDLINE_SESSION_IDLE_DAYS", "14")),
            signin_attempts=int(env.get("GRIDLINE_SIGNIN_ATTEMPTS", "8")),
            signin_window_minutes=int(env.get("GRIDLINE_SIGNIN_WINDOW_MINUTES", "15")),
            secure_cookies=env.get("GRIDLINE_SECURE_COOKIES", "") == "1",
            debug=env.get("GRIDLINE_DEBUG", "") == "1",
            timezone=env.get("GRIDLINE_TZ", "Asia/Shanghai"),
            build=env.get("GRIDLINE_BUILD", ""),
            public_url=env.get("GRIDLINE_PUBLIC_URL", "").rstrip("/"),
            answer_days=max(1, int(env.get("GRIDLINE_ANSWER_DAYS", "7"))),
            trusted_proxies=frozenset(a.strip() for a in env.get("GRIDLINE_TRUSTED_PROXIES", "").split(",") if a.strip()),
            self_reports_per_hour=max(1, int(env.get("GRIDLINE_SELF_REPORTS_PER_HOUR", "10"))),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
