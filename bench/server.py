"""The real app (`python -m web serve`, one uvicorn process) on a free loopback port.

Stopped on every way out: the run's `finally`, `atexit`, and SIGTERM/SIGHUP turned into
SystemExit by `run.main`. Its CPU time is read from /proc so each load run can say what
one request cost the server, a figure far less noisy than requests/s.
"""

from __future__ import annotations

import atexit
import http.client
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from bench.data import ROOT, log

HOST = "127.0.0.1"  # all traffic stays on loopback
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_running: list[Server] = []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class Server:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0) -> None:
        self.port = free_port()
        self.env.update(HOST=HOST, PORT=str(self.port))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "web", "serve"], cwd=ROOT, env=self.env,
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
        )
        log_file.close()
        _running.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}; see {self.log_path}:\n"
                                   + self.log_path.read_text(errors="replace")[-3000:])
            try:
                status, _, _ = self.get("/ping", timeout=1)
                if status == 200:
                    log(f"server up at {self.origin} (pid {self.pid}, log {self.log_path})")
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not answer /ping within {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if self in _running:
            _running.remove(self)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        log(f"server stopped (pid {process.pid}, exit {process.returncode})")

    def check_alive(self) -> None:
        """Raise if the server process has gone (crashed, or killed from outside the bench)."""
        if self.process is None or self.process.poll() is not None:
            code = None if self.process is None else self.process.returncode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit {code}"
            raise RuntimeError(f"the server process (pid {self.pid if self.process else '?'}) is gone ({how}) — "
                               f"not stopped by the bench; its log: {self.log_path}")

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process, all its threads (aiosqlite's included)."""
        with open(f"/proc/{self.pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime

    # One-off requests for setting up and checking (the load generator is bench.load).

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                timeout: float = 30) -> tuple[int, http.client.HTTPMessage, bytes]:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def get(self, path: str, headers: dict[str, str] | None = None, timeout: float = 30):
        return self.request("GET", path, headers=headers, timeout=timeout)

    def sign_in(self, username: str, password: str) -> str:
        """POST /signin as a browser would (same-origin); returns the gl_session cookie."""
        body = urlencode({"username": username, "password": password, "next": "/"}).encode()
        status, headers, text = self.request("POST", "/signin", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": self.origin,
        })
        for cookie in headers.get_all("set-cookie") or []:
            if (match := re.match(r"\s*gl_session=([^;]*)", cookie)) and match.group(1):
                return match.group(1)
        raise RuntimeError(f"signing in as {username} failed: HTTP {status}: {text[:500]!r}")


@atexit.register
def _stop_all() -> None:
    for server in _running:
        server.stop()
