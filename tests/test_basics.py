"""The shell: health, headers, language, sign-in and sign-out."""

from __future__ import annotations

import re

from tests.conftest import sign_in


def test_healthz_reports_the_database(client, world):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["engine"] == world["engine"]
    assert body["database"]["places"] > 10


def test_every_response_varies_on_hx_request_and_has_a_strict_csp(client):
    for url in ("/signin", "/healthz", "/sw.js", "/nope"):
        response = client.get(url)
        assert "HX-Request" in response.headers["vary"], url
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_chinese_by_default_english_on_request(client):
    assert "登录" in client.get("/signin").text
    english = client.get("/signin", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
    assert "Sign in" in english and "登录" not in english


def test_language_switch_sticks(client):
    response = client.post("/lang", data={"lang": "en", "next": "/signin"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/signin"
    assert "Sign in" in client.get("/signin").text


def test_sign_in_wrong_password_says_so_beside_the_form(client):
    response = client.post("/signin", data={"username": "gridhead", "password": "wrong"}, headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert "Username or password is wrong." in response.text


def test_sign_in_missing_fields_are_named(client):
    response = client.post("/signin", data={"username": "", "password": ""}, headers={"Accept-Language": "en", "HX-Request": "true"})
    assert response.status_code == 422
    assert "Enter your username." in response.text and "Enter your password." in response.text
    assert "<html" not in response.text  # the form block only


def test_sign_in_then_home_then_sign_out(world, client):
    token = sign_in(world, "gridhead")
    client.as_(token)
    home = client.get("/")
    assert home.status_code == 200 and "李网格长" in home.text
    fresh = client.post("/signin", data={"username": "gridhead", "password": "gridline-demo"}, follow_redirects=False)
    client.as_(fresh.cookies["gl_session"])
    assert client.post("/signout", follow_redirects=False).status_code == 303
    assert client.get("/", follow_redirects=False).headers["location"] == "/signin"


def test_cross_site_post_is_refused_but_a_replayed_same_origin_one_is_not(world, client):
    client.as_(sign_in(world, "gridhead"))
    refused = client.post("/lang", data={"lang": "en"}, headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    # A service worker replaying a stored request sends Sec-Fetch-Site: same-origin.
    replay = client.post("/lang", data={"lang": "en"}, headers={"Sec-Fetch-Site": "same-origin"}, follow_redirects=False)
    assert replay.status_code == 303


def test_static_files_are_versioned_and_immutable(client):
    page = client.get("/signin").text
    css = re.search(r'href="(/static/app\.[0-9a-f]{10}\.css)"', page).group(1)
    response = client.get(css)
    assert response.status_code == 200
    assert "immutable" in response.headers["cache-control"]
    assert client.get("/static/app.css").status_code == 404


def test_service_worker_is_served_from_root_uncached(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert "__SHELL__" not in response.text and "/offline" in response.text


def test_one_requests_cookies_never_serve_another_even_if_a_server_shares_their_state(world, call):
    """The edge keeps a request's parsed cookies in its own scope: two requests that an
    ASGI server handed the very same `state` dict still each get their own session."""
    from web.accounts.tables import User

    app = world["client"].app
    shared: dict = {}

    async def page_for(token: str) -> str:
        chunks: list[bytes] = []
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
                 "path": "/account", "raw_path": b"/account", "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"testserver.local"), (b"cookie", f"gl_session={token}".encode())],
                 "client": ("127.0.0.1", 1), "server": ("testserver.local", 80), "state": shared}

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(scope, receive, send)
        return b"".join(chunks).decode()

    async def name_of(username: str) -> str:
        return (await User.select(User.display_name).where(User.username == username).first())["display_name"]

    for username, other in (("gridhead", "volunteer"), ("volunteer", "gridhead")):
        shown = call(page_for, sign_in(world, username))
        assert call(name_of, username) in shown and call(name_of, other) not in shown
