"""Browser tests: the real server in a subprocess, driven by Debian's Chromium through Playwright.

One server and one browser for the browser tests; every test gets fresh browser contexts (cookies,
storage and service workers of its own) shaped like a 360 px phone.

The server can be stopped and started again mid-test on the same port and data directory
(`server.stop()` / `server.start()`, or `with server.down(): ...`), which is what the offline
tests need to prove that the phone works without it. The next test finds it running again.

Chromium is `/usr/bin/chromium` (GRIDLINE_CHROMIUM overrides it); it is never downloaded. Where
it is missing the browser tests are skipped with a message, except under CI=true, where that
fails the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .support import CHROMIUM, CHROMIUM_ARGS, ROOT, Demo, LiveServer, Phones, Watch, demo_facts, free_port


def _unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message + ": CI must run the browser tests", pytrace=False)
    pytest.skip(message + "; browser tests skipped")


@pytest.fixture(scope="package")
def live_server() -> Iterator[LiveServer]:
    """The real server on a fresh data directory seeded with the small demo, for the browser tests."""
    data_dir = Path(tempfile.mkdtemp(prefix="gridline-browser-"))
    server = LiveServer(data_dir, free_port())
    seeded = subprocess.run([sys.executable, "-m", "web", "demo", "--size", "small"], cwd=ROOT, env=server.env(),
                            capture_output=True, text=True, timeout=120)
    if seeded.returncode != 0:
        pytest.fail(f"seeding the demo failed:\n{seeded.stdout}\n{seeded.stderr}", pytrace=False)
    server.demo = demo_facts(data_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    """The session's server, running (a test before may have stopped it and failed)."""
    live_server.start()
    return live_server


@pytest.fixture
def demo(live_server: LiveServer) -> Demo:
    return live_server.demo


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One headless Chromium for all the browser tests. Package-scoped, not session-scoped:
    Playwright's sync API keeps an event loop running in the main thread while it is open,
    which would break `asyncio.run()` in the other tests' fixtures that run after these."""
    if not os.path.exists(CHROMIUM):
        _unavailable(f"Chromium is not installed at {CHROMIUM} (`make chromium` installs Debian's)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        _unavailable(f"the playwright package is missing ({error})")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def watch() -> Watch:
    """Console errors, page errors and CSP violations of every page the test opens."""
    return Watch()


@pytest.fixture
def open_page(browser: Any, server: LiveServer, watch: Watch) -> Iterator[Callable[..., Any]]:
    """`open_page(locale="zh-CN", **context_options)`: a page in a new phone-shaped context
    (360×740 at 2×, touch, mobile), closed after the test, watched by `watch`."""
    phones = Phones(browser, server, watch)
    yield phones.page
    phones.close()


@pytest.fixture
def page(open_page: Callable[..., Any]) -> Any:
    """A page in a fresh zh-CN phone context."""
    return open_page()
