"""The load generator: N concurrent keep-alive clients for a fixed time, every latency kept.

Two implementations of the same loop, because the generator shares the 2 cores with
the server and its own CPU is taken from the server's:

- "raw" (the default): asyncio streams on uvloop, one HTTP/1.1 keep-alive connection
  per client, the request bytes built once, responses read by Content-Length (chunked
  handled too). No parsing beyond the status and the body's length.
- "httpx": httpx.AsyncClient with a pool of N connections, for comparison.

Each run has a warm-up (not counted), then a measured window. Counted are the
responses that *complete* inside the window, so requests/s is completions per second
at steady state; a latency is send-to-last-byte of one of those responses. The
generator's own CPU (getrusage of this process) and the server's (/proc) are read at
the window's edges.
"""

from __future__ import annotations

import asyncio
import random
import os
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

uvloop: ModuleType | None
try:
    import uvloop
except ImportError:  # pragma: no cover - uvicorn[standard] brings it
    uvloop = None

HOST = "127.0.0.1"
_ns = time.perf_counter_ns


@dataclass
class LoadResult:
    name: str
    path: str
    client: str
    clients: int
    seconds: float  # measured window
    latencies_ns: list[int]  # sorted
    statuses: Counter = field(default_factory=Counter)
    errors: int = 0  # unexpected status or a broken connection
    error_samples: list[str] = field(default_factory=list)
    body_bytes: int = 0  # of the last counted response
    generator_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    system_cpu_s: float = 0.0  # every process on the machine

    @property
    def others_cpu_share(self) -> float:
        """CPU used by other processes during the window, in cores (1.0 = one core busy)."""
        return max(0.0, self.system_cpu_s - self.generator_cpu_s - self.server_cpu_s) / self.seconds

    @property
    def requests(self) -> int:
        return len(self.latencies_ns)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, p: float) -> float:
        return percentile_ms(self.latencies_ns, p)

    @property
    def generator_cpu_us_per_request(self) -> float:
        return self.generator_cpu_s / self.requests * 1e6 if self.requests else float("nan")

    @property
    def server_cpu_ms_per_request(self) -> float:
        return self.server_cpu_s / self.requests * 1e3 if self.requests else float("nan")


def percentile_ms(sorted_ns: list[int], p: float) -> float:
    """Nearest-rank percentile of sorted nanosecond latencies, in milliseconds."""
    if not sorted_ns:
        return float("nan")
    rank = max(1, -(-len(sorted_ns) * p // 100))  # ceil(n·p/100)
    return sorted_ns[int(rank) - 1] / 1e6


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def system_busy_seconds() -> float:
    """CPU time all processes on the machine have used (all cores), from /proc/stat."""
    try:
        with open("/proc/stat", "rb") as handle:
            fields = handle.readline().split()
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


def _request_bytes(port: int, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _Window:
    """The measured window, shared by the clients; CPU read at its edges."""

    def __init__(self, warmup: float, seconds: float, server_cpu: Callable[[], float]) -> None:
        now = _ns()
        self.start = now + int(warmup * 1e9)
        self.stop = self.start + int(seconds * 1e9)
        self.server_cpu = server_cpu
        self.cpu: dict[str, float] = {}

    async def watch(self) -> None:
        await asyncio.sleep(max(0.0, (self.start - _ns()) / 1e9))
        self.cpu["sys0"], self.cpu["gen0"], self.cpu["srv0"] = system_busy_seconds(), _cpu_self(), self.server_cpu()
        self.cpu["t0"] = _ns()
        await asyncio.sleep(max(0.0, (self.stop - _ns()) / 1e9))
        self.cpu["sys1"], self.cpu["gen1"], self.cpu["srv1"] = system_busy_seconds(), _cpu_self(), self.server_cpu()
        self.cpu["t1"] = _ns()


async def _raw_client(port: int, request: bytes, expect: int, window: _Window, out: list[int],
                      result: LoadResult, think: float = 0.0) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    start, stop = window.start, window.stop
    append = out.append
    while True:
        t0 = _ns()
        if t0 >= stop:
            break
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            assert reader is not None  # opened with the writer
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at >= 0:
                end = lower.index(b"\r\n", at + 2)
                body = await reader.readexactly(int(lower[at + 17 : end]))
            elif b"\r\ntransfer-encoding: chunked" in lower:
                body = await _read_chunked(reader)
            else:
                body = b""
            closing = b"\r\nconnection: close" in lower
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            t1 = _ns()
            if start <= t1 < stop:
                result.errors += 1
                if len(result.error_samples) < 5:
                    result.error_samples.append(f"{type(error).__name__}: {error}")
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
            continue
        t1 = _ns()
        if start <= t1 < stop:
            append(t1 - t0)
            result.statuses[status] += 1
            result.body_bytes = len(body)
            if status != expect:
                result.errors += 1
        if closing:
            writer.close()
            reader = writer = None
        if think:
            # A person reading the page before the next tap: 0 to 2× the mean, evenly.
            await asyncio.sleep(random.uniform(0, 2 * think))
    if writer is not None:
        writer.close()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def _raw(port: int, path: str, headers: dict[str, str], clients: int, expect: int, window: _Window,
               result: LoadResult, think: float = 0.0) -> list[int]:
    request = _request_bytes(port, path, headers)
    out: list[int] = []
    await asyncio.gather(window.watch(), *[_raw_client(port, request, expect, window, out, result, think)
                                           for _ in range(clients)])
    return out


async def _httpx(port: int, path: str, headers: dict[str, str], clients: int, expect: int, window: _Window,
                 result: LoadResult, think: float = 0.0) -> list[int]:
    import httpx

    out: list[int] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", limits=limits, timeout=30,
                                 headers=headers) as session:
        async def client() -> None:
            start, stop = window.start, window.stop
            while True:
                t0 = _ns()
                if t0 >= stop:
                    break
                try:
                    response = await session.get(path)
                except httpx.HTTPError as error:
                    if start <= _ns() < stop:
                        result.errors += 1
                        if len(result.error_samples) < 5:
                            result.error_samples.append(f"{type(error).__name__}: {error}")
                    await asyncio.sleep(0.01)
                    continue
                t1 = _ns()
                if start <= t1 < stop:
                    out.append(t1 - t0)
                    result.statuses[response.status_code] += 1
                    result.body_bytes = len(response.content)
                    if response.status_code != expect:
                        result.errors += 1
                if think:  # as the raw client waits
                    await asyncio.sleep(random.uniform(0, 2 * think))

        await asyncio.gather(window.watch(), *[client() for _ in range(clients)])
    return out


def run_load(name: str, port: int, path: str, *, headers: dict[str, str] | None = None, clients: int = 20,
             warmup: float = 2.0, seconds: float = 10.0, expect: int = 200, client: str = "raw",
             server_cpu: Callable[[], float] = lambda: 0.0, think: float = 0.0) -> LoadResult:
    """Drive GET `path` with `clients` concurrent keep-alive clients; stops by itself.
    `think`: mean seconds a client waits between answer and next request (0: none)."""
    result = LoadResult(name=name, path=path, client=client, clients=clients, seconds=seconds, latencies_ns=[])
    impl = {"raw": _raw, "httpx": _httpx}[client]

    async def main() -> list[int]:
        window = _Window(warmup, seconds, server_cpu)
        # A hard ceiling: the clients stop at the window's end; a hung server cannot hold the run.
        args = (port, path, dict(headers or {}), clients, expect, window, result)
        work = impl(*args, think)
        out = await asyncio.wait_for(work, timeout=warmup + seconds + 60)
        cpu = window.cpu
        result.seconds = (cpu["t1"] - cpu["t0"]) / 1e9
        result.generator_cpu_s = cpu["gen1"] - cpu["gen0"]
        result.server_cpu_s = cpu["srv1"] - cpu["srv0"]
        result.system_cpu_s = cpu["sys1"] - cpu["sys0"]
        return out

    with asyncio.Runner(loop_factory=uvloop.new_event_loop if uvloop else None) as runner:
        result.latencies_ns = sorted(runner.run(main()))
    return result


def event_loop_name() -> str:
    return f"uvloop {uvloop.__version__}" if uvloop else "asyncio (stdlib loop)"
