"""The browser tests' tools: the live server, what the demo holds, the watch on the console
and CSP, and the few user actions every test repeats. Fixtures are in conftest.py."""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("GRIDLINE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DEMO_PASSWORD = "gridline-demo"
TIMEOUT_MS = 10_000


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The server is on loopback: never go through a proxy from the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LiveServer:
    """`python -m web serve` on one port and one data directory, stoppable and restartable."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.extra_env: dict[str, str] = {}  # e.g. GRIDLINE_BUILD, to release a new version
        self.data_dir = data_dir
        self.port = port
        self.host = "127.0.0.1"
        self.url = f"http://{self.host}:{port}"
        self.log_path = data_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.demo: Demo | None = None  # filled in once the data directory is seeded

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("DATABASE_URL", "GRIDLINE_SECURE_COOKIES", "GRIDLINE_DEBUG"):
            env.pop(name, None)
        env.update(GRIDLINE_DATA=str(self.data_dir), HOST=self.host, PORT=str(self.port), PYTHONUNBUFFERED="1")
        env.update(self.extra_env)
        return env

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def healthy(self) -> bool:
        try:
            with _DIRECT.open(self.url + "/healthz", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def start(self, timeout: float = 30.0) -> None:
        """Start the server (if it is not running) and wait until /healthz answers 200."""
        if self.running:
            return
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {time.strftime('%H:%M:%S')}\n".encode())
            self.process = subprocess.Popen(
                [sys.executable, "-m", "web", "serve"],
                cwd=ROOT, env=self.env(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.healthy():
                return
            time.sleep(0.05)
        self.stop(kill=True)
        raise RuntimeError(f"the server did not answer /healthz within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, kill: bool = False, timeout: float = 10.0) -> None:
        """Stop the server: SIGTERM (a clean shutdown), or SIGKILL when `kill` (a crash, a
        pulled cable). Returns once the port no longer accepts connections."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._port_open():
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()

    @contextlib.contextmanager
    def down(self, kill: bool = False) -> Iterator["LiveServer"]:
        """`with live_server.down(): ...`: the server is stopped inside, running again after."""
        self.stop(kill=kill)
        try:
            yield self
        finally:
            self.start()

    def _port_open(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.2)
            return probe.connect_ex((self.host, self.port)) == 0


@dataclass(frozen=True)
class Demo:
    """What the tests need to know about the seeded demo data."""

    resident_token: str
    resident_household: int  # the household the demo resident link opens
    resident_members: tuple[str, ...]  # the names registered in it
    grid_name: str  # the grid head's grid
    walking_order: tuple[int, ...]  # its first households, in walking order
    neighbour_household: int  # another household in the same grid
    far_household: int  # a household in another community
    surnames: tuple[str, ...]  # the commonest surnames in the grid head's grid, commonest first


def demo_facts(data_dir: Path) -> Demo:
    token = (data_dir / "demo-resident-link.txt").read_text(encoding="utf-8").strip()
    # Read-only look into the seeded SQLite file, before the server opens it.
    connection = sqlite3.connect(f"file:{data_dir / 'gridline.sqlite3'}?mode=ro", uri=True)
    try:
        [(own, own_path)] = connection.execute(
            "SELECT h.id, h.path FROM household_link l JOIN household h ON h.id = l.household").fetchall()
        members = tuple(row[0] for row in connection.execute(
            "SELECT name FROM person WHERE household = ? ORDER BY id", (own,)))
        [(grid_name, grid_path)] = connection.execute(
            "SELECT p.name, p.path FROM role_grant g JOIN account a ON a.id = g.user JOIN place p ON p.id = g.place"
            " WHERE a.username = 'gridhead' AND g.role = 'grid_head'").fetchall()
        assert own_path.startswith(grid_path), "the demo resident lives in the grid head's grid"
        walking = tuple(row[0] for row in connection.execute(
            "SELECT id FROM household WHERE path LIKE ? ORDER BY sort_key LIMIT 5", (grid_path + "%",)))
        community_path = "/".join(grid_path.split("/")[:-2]) + "/"
        (neighbour,) = connection.execute(
            "SELECT id FROM household WHERE path LIKE ? AND id != ? ORDER BY sort_key LIMIT 1",
            (grid_path + "%", own)).fetchone()
        (far,) = connection.execute(
            "SELECT id FROM household WHERE path NOT LIKE ? ORDER BY id DESC LIMIT 1",
            (community_path + "%",)).fetchone()
        surnames = tuple(row[0] for row in connection.execute(
            "SELECT substr(name, 1, 1) AS s, count(*) AS n FROM person WHERE path LIKE ?"
            " GROUP BY s ORDER BY n DESC, s LIMIT 3", (grid_path + "%",)))
    finally:
        connection.close()
    return Demo(token, own, members, grid_name, walking, neighbour, far, surnames)


# Reports CSP violations from every document, whatever its own CSP says (init scripts and
# bindings are not subject to the page's policy).
_WATCH_SCRIPT = """
(() => {
  window.__gridlineCsp = [];
  document.addEventListener("securitypolicyviolation", (e) => {
    const v = {directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile,
               line: e.lineNumber, sample: e.sample, page: location.href};
    window.__gridlineCsp.push(v);
    try { window.__gridlineReport("csp", v); } catch (_) {}
  }, true);
})();
"""


@dataclass
class Watch:
    """Console errors, uncaught page errors and CSP violations seen in a test's contexts."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[dict] = field(default_factory=list)

    def attach(self, context: Any) -> None:
        context.expose_binding("__gridlineReport", self._report)
        context.add_init_script(_WATCH_SCRIPT)
        context.on("console", self._console)
        context.on("weberror", lambda error: self.page_errors.append(str(error.error)))

    def _report(self, source: dict, kind: str, detail: dict) -> None:
        if kind == "csp":
            self.csp_violations.append(detail)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            where = message.location or {}
            page = message.page.url if message.page else "?"
            self.console_errors.append(f"{page}: {message.text} ({where.get('url', '')}:{where.get('lineNumber', '')})")

    def problems(self, ignore: tuple[str, ...] = ()) -> list[str]:
        found = [f"CSP violation: {v}" for v in self.csp_violations]
        found += [f"console error: {e}" for e in self.console_errors if not any(i in e for i in ignore)]
        found += [f"page error: {e}" for e in self.page_errors]
        return found

    def clear(self) -> None:
        self.console_errors.clear()
        self.page_errors.clear()
        self.csp_violations.clear()


class Phones:
    """Browser contexts shaped like a 360 px phone (2×, touch, mobile), watched by `watch`,
    all closed by `close()`."""

    def __init__(self, browser: Any, server: LiveServer, watch: Watch) -> None:
        self.browser, self.server, self.watch = browser, server, watch
        self.contexts: list[Any] = []

    def page(self, locale: str = "zh-CN", **options: Any) -> Any:
        """A page in a new context; `options` go to `browser.new_context`."""
        context = self.browser.new_context(base_url=self.server.url, locale=locale, **{**PHONE, **options})
        context.set_default_timeout(TIMEOUT_MS)
        self.watch.attach(context)
        self.contexts.append(context)
        return context.new_page()

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts.clear()


# --------------------------------------------------------------------------- user actions


def sign_in(page: Any, server: LiveServer, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the form, the way a user does, and wait for the home page."""
    page.goto("/signin")
    page.locator("#f-username").fill(username)
    page.locator("#f-password").fill(password)
    page.locator("#signin button[type=submit]").tap()
    page.wait_for_url(server.url + "/")
    page.wait_for_load_state("load")


def open_resident_link(page: Any, server: LiveServer, demo: Demo) -> None:
    page.goto(f"/h/{demo.resident_token}")
    page.wait_for_url(server.url + "/my")


def path_of(page: Any) -> str:
    """The address bar's path and query, read from the page itself."""
    return page.evaluate("location.pathname + location.search")


# ------------------------------------------------------------------- the app's own code, on its data

_IN_APP = r"""
import asyncio, json, sys

from web import db
from web.settings import get_settings

{body}


async def main():
    engine = db.make_engine(get_settings())
    db.bind(engine)
    await db.start(engine)
    try:
        print(json.dumps(await setup(*sys.argv[1:])))
    finally:
        await db.stop(engine)


asyncio.run(main())
"""


def in_app(server: LiveServer, body: str, *argv: str) -> dict:
    """Run `body` (which defines `async def setup(*argv) -> dict`) with the app's own code on
    the live server's database, in a process of its own; its answer as a dict. For what a
    test needs there that no page makes (a campaign started, a site's slots generated)."""
    import json
    import textwrap

    made = subprocess.run([sys.executable, "-c", _IN_APP.format(body=textwrap.dedent(body)), *argv], cwd=ROOT,
                          env=server.env(), capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    return json.loads(made.stdout.strip().splitlines()[-1])
