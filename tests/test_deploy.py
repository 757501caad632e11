"""What several instances behind a proxy need: the client's real address, a request id on
every answer and log line, one process on SQLite."""

from __future__ import annotations

import io
import logging
import subprocess
import sys

import httpx

from tests.conftest import ORIGIN
from web.asgi import AccessLog, configure_logging
from web.core.edge import client_address


def _scope(peer: str, *forwarded: str) -> dict:
    return {"client": (peer, 1234), "headers": [(b"x-forwarded-for", f.encode()) for f in forwarded]}


def test_the_client_address_is_forwarded_only_by_a_trusted_proxy():
    proxies = frozenset({"10.0.0.2", "10.0.0.3"})
    assert client_address(_scope("10.0.0.2", "203.0.113.7"), proxies) == "203.0.113.7"
    # What the client wrote itself (leftmost) is not believed; the proxies' own hops are skipped.
    assert client_address(_scope("10.0.0.2", "198.51.100.1, 203.0.113.7, 10.0.0.3"), proxies) == "203.0.113.7"
    # Not from a proxy: the header is anyone's to forge.
    assert client_address(_scope("203.0.113.9", "198.51.100.1"), proxies) == "203.0.113.9"
    assert client_address(_scope("10.0.0.2", "198.51.100.1"), frozenset()) == "10.0.0.2"


def test_every_answer_and_log_line_carries_a_request_id(world, call):
    stream = io.StringIO()
    app = AccessLog(world["client"].app)

    async def run():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as client:
            return [await client.get("/signin"), await client.get("/no/such/page"),
                    await client.get("/signin", headers={"X-Request-Id": "proxy-abc.1"}),
                    await client.get("/signin", headers={"X-Request-Id": "bad id with spaces"})]

    configure_logging(stream=stream)
    try:
        answers = call(run)
    finally:
        logging.getLogger("gridline").handlers.clear()
        logging.getLogger("gridline").propagate = True
    ids = [r.headers["x-request-id"] for r in answers]
    assert len(set(ids)) == 4 and ids[2] == "proxy-abc.1" and " " not in ids[3]
    lines = stream.getvalue().splitlines()
    assert any(f"[{ids[0]}]" in line and "GET /signin 200" in line for line in lines), lines
    assert any(f"[{ids[1]}]" in line and "GET /no/such/page 404" in line for line in lines), lines


def test_sqlite_refuses_several_worker_processes(tmp_path):
    result = subprocess.run([sys.executable, "-m", "web", "serve", "--workers", "2"], capture_output=True, text=True,
                            env={"GRIDLINE_DATA": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert result.returncode != 0 and "SQLite means one process" in result.stderr


def test_a_session_ended_on_another_instance_is_refused_here_within_a_second(world, call):
    """Another instance revokes the session in the database (this one's cache is not told)."""
    import time

    from tests.conftest import sign_in
    from web import db
    from web.accounts.auth import load_principal, token_hash
    from web.accounts.tables import Session
    from web.core.timeutil import now

    world["tokens"].pop("volunteer", None)
    token = sign_in(world, "volunteer")
    world["tokens"].pop("volunteer", None)  # ended below: never lent to another test

    async def load():
        return await load_principal(token, 14)

    async def revoke():
        async with db.write():
            await Session.update({Session.revoked_at: now()}).where(Session.token_hash == token_hash(token))

    assert call(load) is not None
    call(revoke)
    time.sleep(1.05)
    assert call(load) is None
