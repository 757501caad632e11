"""The scan page on a 360 px phone: a typed door code opens the household, from the page's own
list when it holds the code, and with the server stopped for a household prepared offline."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from .support import LiveServer, path_of, sign_in
from .phone import CONTROLLED, IS_SAVED, read_db, wait_until

pytestmark = pytest.mark.browser

WRONG_SHAPE = "A door code is 8 letters and digits, as printed on the plate."
# Failed loads are expected while the server is down; a 404 page is one the test asked for.
OFFLINE_NOISE = ("ERR_CONNECTION_REFUSED", "ERR_INTERNET_DISCONNECTED", "ERR_FAILED", "status of 503")


def grid_doors(server: LiveServer) -> list[tuple[int, str]]:
    """(household id, door code) of the grid head's grid, last in walking order first: no
    other browser test opens those."""
    [(grid_path,)] = read_db(
        server, "SELECT p.path FROM role_grant g JOIN account a ON a.id = g.user JOIN place p ON p.id = g.place"
        " WHERE a.username = 'gridhead' AND g.role = 'grid_head'")
    return read_db(server, "SELECT id, door_code FROM household WHERE path LIKE ? ORDER BY sort_key DESC",
                   grid_path + "%")


def unused_code(server: LiveServer) -> str:
    for code in ("ZZZZZZZZ", "YYYYYYYY", "XXXXXXXX"):
        if not read_db(server, "SELECT 1 FROM household WHERE door_code = ?", code):
            return code
    raise AssertionError("no unused door code")




def type_code(page: Any, text: str) -> None:
    page.locator("#f-code").fill(text)
    page.locator("#scan button[type=submit]").tap()


def test_typing_a_door_code_opens_its_household(open_page, server, watch):
    page = open_page(locale="en-US")
    sign_in(page, server, "gridhead")
    household, code = grid_doors(server)[0]
    page.goto("/scan")
    expect(page.locator("h1")).to_have_text("Scan a door plate")
    target = page.locator(f"#d-{code}").get_attribute("href")
    assert re.fullmatch(rf"(/campaigns/\d+)?/households/{household}", target), target

    # Where the browser cannot read QR codes itself, no camera button is offered.
    has_detector = page.evaluate("() => 'BarcodeDetector' in window")
    if not has_detector:
        expect(page.locator("[data-scan-start]")).to_be_hidden()

    # The wrong shape: said beside the field, in the user's language; nothing is opened.
    type_code(page, "abc12")
    expect(page.locator("#e-code")).to_have_text(WRONG_SHAPE)
    expect(page.locator("#f-code")).to_have_attribute("aria-invalid", "true")
    assert path_of(page) == "/scan"

    # Lower case with a space, as read off a plate: opened from the page's own list.
    type_code(page, f"{code[:4].lower()} {code[4:].lower()}")
    page.wait_for_url(server.url + target)
    expect(page.locator("main h1")).not_to_be_empty()

    # A code the page does not hold goes to the server, which knows no such door.
    missing = unused_code(server)
    page.goto("/scan")
    type_code(page, missing.lower())
    page.wait_for_url(re.compile(rf"/d\?code={missing}$"))
    expect(page.locator("main h1")).to_have_text("Not available")
    assert watch.problems(ignore=("status of 404",)) == []


def test_with_the_server_stopped_a_typed_code_opens_the_prepared_household(open_page, server, watch):
    page = open_page()
    sign_in(page, server, "gridhead")
    wait_until(page, lambda: page.evaluate(CONTROLLED), "the service worker to control the page")
    user = page.evaluate("() => document.documentElement.dataset.user")
    household, code = grid_doors(server)[1]

    # Prepare for offline on the sync page, the way a grid head does before the stairwell.
    urls = page.request.get("/sync/manifest").json()["urls"]
    assert f"/households/{household}" in urls
    page.goto("/sync")
    page.get_by_role("button", name="准备离线使用").tap()
    expect(page.locator("#prepare-result")).to_have_text(re.compile(rf"^已可离线使用：{len(urls)} 个页面"),
                                                         timeout=60_000)
    # The scan page, and where the code leads (a sweep form, if a campaign is open), saved as opened.
    page.goto("/scan")
    target = page.locator(f"#d-{code}").get_attribute("href")
    for path in ("/scan", target):
        if path not in urls:
            page.goto(path)
        wait_until(page, lambda path=path: page.evaluate(IS_SAVED, [user, path]), f"{path} to be saved on the phone")

    with server.down():
        response = page.goto("/scan")
        assert response is not None and response.headers.get("x-gridline-cache") == "page", "the saved scan page"
        with page.expect_navigation() as opened:
            type_code(page, f"{code[:4]} {code[4:]}".lower())
        assert opened.value is not None and opened.value.headers.get("x-gridline-cache") == "page"
        assert path_of(page) == target
        expect(page.locator("#stale"), "the saved copy says how old it is").to_be_visible()
        expect(page.locator("main h1")).not_to_be_empty()

        # The phone's own camera app opens the plate's URL in the browser: the same page.
        response = page.goto(f"/d/{code}")
        assert response is not None and response.headers.get("x-gridline-cache") == "page"
        assert path_of(page) == target
    assert watch.problems(ignore=OFFLINE_NOISE) == []


# A phone whose browser reads QR codes (Android Chrome): the detector and the camera stood in
# for, since desktop Linux Chromium has neither. The detector "sees" a plate's URL.
FAKE_CAMERA = """
(() => {
  window.__gridlineTracks = [];
  window.BarcodeDetector = class {
    static async getSupportedFormats() { return ["ean_13", "qr_code"]; }
    constructor(options) { this.formats = (options || {}).formats; }
    async detect() { return [{ format: "qr_code", rawValue: location.origin + "/d/%s" }]; }
  };
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    window.__gridlineCamera = constraints;
    const canvas = document.createElement("canvas");
    canvas.width = 64; canvas.height = 64;
    canvas.getContext("2d").fillRect(0, 0, 64, 64);
    const stream = canvas.captureStream();
    window.__gridlineTracks.push(...stream.getTracks());
    return stream;
  };
})();
"""


def test_scanning_a_plate_with_the_camera_opens_its_household(open_page, server, watch):
    page = open_page()
    sign_in(page, server, "gridhead")
    household, code = grid_doors(server)[2]
    page.context.add_init_script(FAKE_CAMERA % code.lower())
    page.goto("/scan")
    target = page.locator(f"#d-{code}").get_attribute("href")
    offer = page.locator("[data-scan-start]")
    expect(offer, "the camera is offered where QR codes can be read").to_be_visible()
    with page.expect_navigation(url=server.url + target):
        offer.get_by_role("button").tap()
    assert path_of(page) == target
    assert watch.problems() == []
