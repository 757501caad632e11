"""The Markdown report: the figures of one run, their ratios, verdicts, and the machine."""

from __future__ import annotations

import math
import os
import platform
import shlex
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata

from bench.data import ROOT, Generation
from bench.floor import FloorResult
from bench.load import LoadResult, event_loop_name

# The numbers to hold (the README's speed table).
FLOOR_SHARE_TARGET = 2 / 3  # the page reaches at least two thirds of its floor's rate
P95_TARGET_MS = 50.0  # household list p95 on SQLite
DEMO_LOAD_TARGET_S = 120.0  # the full demo loads in under 2 minutes on SQLite
BUSY_CORES = 0.25  # other processes using more than this in a window: the run was not on a quiet machine


@dataclass
class Report:
    engine: str
    engine_version: str
    command: list[str]
    clients: int
    warmup: float
    seconds: float
    generation: Generation
    grid: dict
    floor: FloorResult
    page: LoadResult
    others: list[LoadResult]  # ping first
    client_compare: list[LoadResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    quiet_wait: str = ""  # what --wait-quiet found
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    load_before: tuple[float, float, float] = field(default_factory=os.getloadavg)

    @property
    def ping(self) -> LoadResult | None:
        return next((r for r in self.others if r.path == "/ping"), None)


def _f(value: float, digits: int = 1) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:,.{digits}f}"


def _verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**FAIL**"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "–"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=5, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "web", "components"], cwd=ROOT,
                               capture_output=True, text=True, timeout=5, check=False).stdout.strip()
        return f"{head}{' + uncommitted changes under web/ or components/' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def reproduce(command: list[str]) -> str:
    args = shlex.join(command)
    return f".venv/bin/python -m bench{(' ' + args) if args else ''}"  # from the repository root


def render(report: Report) -> str:
    floor, page, ping = report.floor, report.page, report.ping
    floor_rate = floor.rate
    ping_rate = ping.rate if ping else float("nan")
    share = page.rate / floor_rate if floor_rate else float("nan")
    added = floor_rate / page.rate - 1 if page.rate else float("nan")
    cpu_share = (floor.cpu_ms_per_iteration / page.server_cpu_ms_per_request
                 if page.requests and floor.iterations else float("nan"))
    p95 = page.percentile_ms(95)
    gen = report.generation
    out: list[str] = []
    w = out.append

    w(f"# Gridline benchmark: household list of a {floor.households}-household grid ({report.engine})")
    w("")
    w(f"{report.started_at} · {report.clients} concurrent keep-alive clients · {report.warmup:g} s warm-up, "
      f"then {report.seconds:g} s measured per target · all targets against one server in this run, one after another")
    w("")
    w("| target | what | clients | req/s | p50 ms | p95 ms | p99 ms | errors | server CPU ms/req "
      "| others' CPU | ÷ floor | ÷ ping |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    w(f"| floor | 1 SQL query + same template, in-process ({floor.driver}) | 1 | {_f(floor_rate)} | "
      f"{_f(floor.percentile_ms(50), 2)} | {_f(floor.percentile_ms(95), 2)} | {_f(floor.percentile_ms(99), 2)} | – | "
      f"{_f(floor.cpu_ms_per_iteration, 2)} (bench process) | {_f(floor.others_cpu_share, 2)} | 1.00 | "
      f"{_f(floor_rate / ping_rate, 3)} |")
    for result in [page, *report.others]:
        w(f"| {result.name} | GET {result.path} | {result.clients} | {_f(result.rate)} | "
          f"{_f(result.percentile_ms(50), 2)} | {_f(result.percentile_ms(95), 2)} | {_f(result.percentile_ms(99), 2)} | "
          f"{result.errors} | {_f(result.server_cpu_ms_per_request, 2)} | {_f(result.others_cpu_share, 2)} | "
          f"{_f(result.rate / floor_rate, 2)} | {_f(result.rate / ping_rate, 3)} |")
    w("")
    w("“others' CPU”: cores used by every other process on the machine during that window (/proc/stat, minus the "
      "server and the bench process); near 0 means the figures were taken on a quiet machine.")
    busiest = max([floor.others_cpu_share] + [r.others_cpu_share for r in [page, *report.others]])
    if busiest > BUSY_CORES:
        w("")
        w(f"> **The machine was busy with other work during this run** (up to {busiest:.2f} of "
          f"{os.cpu_count()} cores used by other processes in one window). Other work takes CPU unevenly from one "
          "window to the next, so the ratios of rates are unreliable; the CPU-per-request ratio below suffers "
          "less. Rerun when the machine is quiet.")
    w("")
    w("## Verdicts")
    w("")
    w(f"- Page ÷ floor (requests/s ÷ renders/s) = **{_f(share, 2)}** (target ≥ {FLOOR_SHARE_TARGET:.2f}): "
      f"{_verdict(share >= FLOOR_SHARE_TARGET)}. Framework, ORM and scope filter add **{_f(added * 100, 0)} %** "
      f"to the floor's time per page (target < 50 %).")
    w(f"  - The same ratio in CPU per request (floor CPU per render ÷ server CPU per page, less noisy than rates): "
      f"**{_f(cpu_share, 2)}**.")
    p95_line = (f"- Page p95 = **{_f(p95, 1)} ms** under {report.clients} clients (target < {P95_TARGET_MS:g} ms "
                f"on SQLite): ")
    w(p95_line + (_verdict(p95 < P95_TARGET_MS) if report.engine == "sqlite"
                  else f"not judged on {report.engine} (shown for information)"))
    single = next((r for r in report.others if r.clients == 1 and r.path == page.path), None)
    if page.rate:
        need = report.clients / (P95_TARGET_MS / 1000)
        w(f"  - {report.clients} clients that send again as soon as they are answered keep {report.clients} requests "
          f"in the server at all times, so the mean latency is {report.clients} ÷ rate = "
          f"{_f(report.clients / page.rate * 1000, 0)} ms here (Little's law). A p95 under {P95_TARGET_MS:g} ms at "
          f"{report.clients} clients needs more than {need:,.0f} pages/s, i.e. under "
          f"{_f(1000 / need, 1)} ms of server time per page; the floor alone takes "
          f"{_f(floor.cpu_ms_per_iteration, 1)} ms of CPU.")
    if single is not None and single.requests and page.requests:
        w(f"  - Concurrency itself costs: the server spends {_f(page.server_cpu_ms_per_request, 1)} ms of CPU per page "
          f"with {report.clients} clients against {_f(single.server_cpu_ms_per_request, 1)} ms with one "
          f"({_f(page.server_cpu_ms_per_request / single.server_cpu_ms_per_request, 1)}×), and answers "
          f"{_f(page.rate, 1)} pages/s with {report.clients} clients against {_f(single.rate, 1)} with one.")
    if single is not None:
        w(f"  - One client at a time (no queueing: the page's own latency): p50 {_f(single.percentile_ms(50), 1)} ms, "
          f"p95 **{_f(single.percentile_ms(95), 1)} ms** — "
          + ("under" if single.percentile_ms(95) < P95_TARGET_MS else "over") + f" {P95_TARGET_MS:g} ms.")
    when = (f" (measured when bench/data/ was built, {gen.built_at}; `--rebuild` measures it again)"
            if gen.reused else " (measured in this run)")
    w(f"- Full demo load = **{_f(gen.wall_seconds, 1)} s** for `python -m web demo --size full` as a whole "
      f"(the generator's own figure: {_f(gen.demo_seconds or float('nan'), 1)} s){when}; target < "
      f"{DEMO_LOAD_TARGET_S:g} s on SQLite: "
      + (_verdict(gen.wall_seconds < DEMO_LOAD_TARGET_S) if report.engine == "sqlite"
         else f"not judged on {report.engine} (shown for information)"))
    w(f"  - {gen.summary}")
    w(f"- Page ÷ ping = {_f(page.rate / ping_rate, 3)}: the bare endpoint of the same server answers "
      f"{_f(ping_rate / page.rate if page.rate else float('nan'), 0)}× as many requests.")
    w("")
    w("## The floor")
    w("")
    w(f"- Grid {report.grid['id']} ({report.grid['name']}, path `{report.grid['path']}`): {floor.households} households, "
      f"page {_f(floor.html_bytes / 1024, 1)} KiB of HTML.")
    w(f"- Per render: query {_f(floor.query_ms, 2)} ms + template {_f(floor.render_ms, 2)} ms "
      f"(means over {floor.iterations:,} iterations, {_f(floor.seconds, 1)} s).")
    if floor.same_as_page:
        w("- The floor's HTML is byte-for-byte the page the server sent: same rows, same template, same context.")
    else:
        w(f"- **The floor's HTML differs from the page the server sent** — {floor.difference}")
    w("")
    w("## The load generator")
    w("")
    w(f"- `{page.client}`: " + ("asyncio streams, one HTTP/1.1 keep-alive connection per client, request bytes built "
                                "once, responses read by Content-Length" if page.client == "raw" else
                                "httpx.AsyncClient with a pool of one connection per client")
      + f", on {event_loop_name()}, in the bench process (sharing the 2 cores with the server).")
    w("- Its own CPU during each measured window:")
    w("")
    w("| target | generator CPU % of one core | generator CPU µs/req | server CPU % of one core |")
    w("|---|---:|---:|---:|")
    for result in [page, *report.others]:
        w(f"| {result.name} | {_f(result.generator_cpu_s / result.seconds * 100, 0)} % | "
          f"{_f(result.generator_cpu_us_per_request, 0)} | {_f(result.server_cpu_s / result.seconds * 100, 0)} % |")
    if report.client_compare:
        w("")
        w(f"- Which client costs less CPU (GET /ping, {report.clients} clients, short runs in this run):")
        w("")
        w("| client | req/s | p95 ms | generator CPU µs/req | generator CPU % of one core |")
        w("|---|---:|---:|---:|---:|")
        for result in report.client_compare:
            w(f"| {result.client} | {_f(result.rate)} | {_f(result.percentile_ms(95), 2)} | "
              f"{_f(result.generator_cpu_us_per_request, 0)} | {_f(result.generator_cpu_s / result.seconds * 100, 0)} % |")
    for result in [page, *report.others, *report.client_compare]:
        if result.error_samples:
            w(f"- Errors on {result.name} ({result.client}): {'; '.join(result.error_samples)}; "
              f"statuses {dict(result.statuses)}")
    if report.quiet_wait:
        notes_extra = [report.quiet_wait]
    else:
        notes_extra = []
    if report.notes or notes_extra:
        w("")
        w("## Notes")
        w("")
        for note in [*notes_extra, *report.notes]:
            w(f"- {note}")
    w("")
    w("## Machine")
    w("")
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    w(f"- {os.cpu_count()} cores ({affinity} usable by this process), {_cpu_model()}; "
      f"load average when measuring began {', '.join(f'{x:.2f}' for x in report.load_before)}")
    w(f"- {platform.system()} {platform.release()}; Python {platform.python_version()} "
      f"({platform.python_implementation()})")
    w(f"- Engine: {report.engine} {report.engine_version}"
      + (f" (Python's sqlite3 module links SQLite {sqlite3.sqlite_version}), WAL" if report.engine == "sqlite" else ""))
    w(f"- Server: `python -m web serve`, one uvicorn {_version('uvicorn')} process (uvloop {_version('uvloop')}, "
      f"httptools {_version('httptools')}); Litestar {_version('litestar')}, Piccolo {_version('piccolo')}, "
      f"Jinja2 {_version('jinja2')}, aiosqlite {_version('aiosqlite')}, asyncpg {_version('asyncpg')}")
    w(f"- Code: {_git()}")
    w("")
    w("Reproduce:")
    w("")
    w("```")
    w(reproduce(report.command))
    w("```")
    w("")
    return "\n".join(out)
