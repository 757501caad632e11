"""The live-server fixture itself: the offline tests rely on stopping the server and bringing the
same one back (same port, same data, sessions intact)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError

from .support import sign_in

pytestmark = pytest.mark.browser


def test_server_stops_and_restarts_in_place(page, server, demo):
    sign_in(page, server, "gridhead")
    port, data_dir = server.port, server.data_dir

    with server.down():
        assert not server.running and not server.healthy()
        with pytest.raises(PlaywrightError):
            page.request.get("/", timeout=3000)

    assert (server.port, server.data_dir) == (port, data_dir)
    assert server.healthy()
    home = page.request.get("/", max_redirects=0)
    assert home.status == 200, "still signed in: the same database, the same session"
    assert demo.grid_name in home.text()
