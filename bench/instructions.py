"""`python -m bench.instructions`: machine instructions per replayed write, counted.

Timings on these shared 2-core machines move by a third from one minute to the next; an
instruction count under valgrind's callgrind does not move (two runs of the same code
agree within 0.5 %), so it tells whether a change to the write path made it cheaper.

It loads the small demo into a fresh directory, then replays batches of 50 writes
(POST /sync/batch, each a POST /households/{id}/persons, as bench/ingest.py sends them)
through the app in-process (ASGI, no HTTP) under callgrind, counting only the measured
batches: `zlib.adler32` and `zlib.crc32` mark where counting starts and stops. Needs
Debian's valgrind (`apt-get install valgrind`); not part of `make bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
import zlib
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

from bench.data import ROOT
from bench.profile import _Call

BATCH = 50
INSIDE = "GRIDLINE_BENCH_INSIDE_CALLGRIND"


async def _replay(batches: int, route: str | None) -> None:
    """Sign in as the grid head, warm up with three batches, then send `batches` more
    between the two markers."""
    import sqlite3

    from web.app import create_app
    from web.asgi import AccessLog, configure_logging
    from web.settings import get_settings

    settings = get_settings()
    with sqlite3.connect(settings.sqlite_path) as connection:
        household = connection.execute(
            "SELECT h.id FROM household h JOIN place g ON h.path LIKE g.path || '%'"
            " WHERE g.id = (SELECT min(id) FROM place WHERE kind = 'grid') ORDER BY h.id LIMIT 1").fetchone()[0]
    path = route or f"/households/{household}/persons"
    app = create_app(settings)
    for hook in app.on_startup:
        await hook()  # type: ignore[call-arg]  # the app's hooks take no argument
    # As served (web.asgi): through the access log, its lines written (to nowhere).
    configure_logging(stream=open(os.devnull, "w"))
    served = AccessLog(app)
    try:
        form = [(b"origin", b"http://127.0.0.1:8000"), (b"content-type", b"application/x-www-form-urlencoded")]
        signed = await _Call(served, "POST", "/signin", form, urlencode(
            {"username": "gridhead", "password": "gridline-demo", "next": "/"}).encode())()
        cookie = next(v for k, v in signed.response_headers if k == b"set-cookie" and v.startswith(b"gl_session="))
        headers = [(b"cookie", cookie.split(b";")[0]), (b"origin", b"http://127.0.0.1:8000"),
                   (b"sec-fetch-site", b"same-origin"), (b"content-type", b"application/json")]
        manifest = await _Call(served, "GET", "/sync/manifest", headers[:1])()
        owner = json.loads(b"".join(manifest.chunks))["user"]

        def body(i: int) -> bytes:
            return json.dumps({"entries": [{
                "method": "POST", "url": f"http://127.0.0.1:8000{path}",
                "headers": {"content-type": "application/x-www-form-urlencoded", "hx-request": "true",
                            "idempotency-key": str(uuid.uuid4()), "x-occurred-at": datetime.now(timezone.utc).isoformat(),
                            "x-gridline-owner": owner},
                "body": urlencode({"name": f"计数{i}-{j}", "relation": "other"})} for j in range(BATCH)]}).encode()

        for i in range(3):
            warm = await _Call(served, "POST", "/sync/batch", headers, body(i))()
            results = json.loads(b"".join(warm.chunks))["results"]
            if not all(200 <= r["status"] < 400 for r in results):
                raise SystemExit(f"a warm-up write was refused: {results[0]}")
        bodies = [body(100 + i) for i in range(batches)]
        zlib.adler32(b"start")  # callgrind: --zero-before
        for payload in bodies:
            await _Call(served, "POST", "/sync/batch", headers, payload)()
        zlib.crc32(b"stop")  # callgrind: --dump-before
    finally:
        for hook in app.on_shutdown:
            await hook()  # type: ignore[call-arg]  # the app's hooks take no argument


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=6, help="measured batches of 50 writes (default 6)")
    parser.add_argument("--route", help="another write route to replay (default: add a person)")
    args = parser.parse_args(argv)
    if os.environ.get(INSIDE):
        asyncio.run(_replay(args.batches, args.route))
        return
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    workdir = Path(tempfile.mkdtemp(prefix="gridline-instructions-"))
    try:
        env = {**os.environ, "GRIDLINE_DATA": str(workdir), "PICCOLO_CONF": "web.piccolo_conf", INSIDE: "1"}
        env.pop("DATABASE_URL", None)
        subprocess.run([sys.executable, "-m", "web", "demo"], cwd=ROOT, env={**env, INSIDE: ""}, check=True,
                       stdout=subprocess.DEVNULL)
        out = workdir / "callgrind.out"
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--zero-before=zlib_adler32",
                   "--dump-before=zlib_crc32", sys.executable, "-m", "bench.instructions",
                   f"--batches={args.batches}", *([f"--route={args.route}"] if args.route else [])]
        run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        dumps = sorted(workdir.glob("callgrind.out.*"))  # the dump made at the stop marker
        if run.returncode != 0 or not dumps:
            raise SystemExit(f"the run under callgrind failed:\n{run.stderr[-3000:]}")
        totals = re.search(r"^totals:\s+(\d+)", dumps[0].read_text(), re.M)
        if not totals:
            raise SystemExit(f"no totals in {dumps[0]}")
        writes = args.batches * BATCH
        print(f"{int(totals.group(1)) / writes:,.0f} instructions per replayed write"
              f" ({writes} writes in batches of {BATCH}, in-process, callgrind)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
