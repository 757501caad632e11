"""Where the server's time goes under load: py-spy samples of the uvicorn process.

`python -m bench --py-spy` runs the page load once more (after the measured runs, so
the figures are not disturbed) with py-spy attached to the server, then summarises the
sampled stacks: inclusive share of the app's own functions and templates, own time by
package, and the hottest leaf functions. py-spy is not a dependency of the app:
`.venv/bin/pip install py-spy` to use this.
"""

from __future__ import annotations

import linecache
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.data import ROOT, log

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

PACKAGES = (  # (label, marker in the frame's file); first match wins
    ("app code (web/)", "web/"),
    ("templates (compiled Jinja)", ".html"),
    ("jinja2", "jinja2/"),
    ("markupsafe", "markupsafe/"),
    ("gettext / babel", "gettext"),
    ("babel", "babel/"),
    ("piccolo", "piccolo/"),
    ("aiosqlite", "aiosqlite/"),
    ("sqlite3", "sqlite3/"),
    ("litestar", "litestar/"),
    ("msgspec", "msgspec"),
    ("uvicorn", "uvicorn/"),
    ("asyncio", "asyncio/"),
    ("threading / queue", "threading.py"),
    ("threading / queue", "queue.py"),
    ("hashlib", "hashlib"),
)


def executable() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, out: Path, rate: int = 250) -> subprocess.Popen:
    spy = executable()
    if spy is None:
        raise SystemExit("--py-spy needs py-spy: .venv/bin/pip install py-spy")
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", str(rate),
         "--format", "raw", "--threads", "--nonblocking", "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


def finish(process: subprocess.Popen, timeout: float = 60) -> str:
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output.decode(errors="replace")


def _idle(function: str, file: str) -> bool:
    """py-spy counts a thread blocked in C as busy: aiosqlite's worker waiting on its queue
    (`tx.get()`) is idle, not work."""
    if function != "_connection_worker_thread" or ":" not in file:
        return False
    try:
        import aiosqlite.core

        line = linecache.getline(aiosqlite.core.__file__, int(file.rsplit(":", 1)[1]))
    except (ImportError, ValueError):
        return False
    return ".get(" in line


def _parse_with_line(frame: str) -> tuple[str, str]:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip(), ""
    return match.group("function"), f"{match.group('file')}:{match.group('line')}"


def _parse(frame: str) -> tuple[str, str]:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip(), ""
    return match.group("function"), match.group("file") or ""


def _package(file: str) -> str:
    for label, marker in PACKAGES:
        if marker in file:
            return label
    return file.rsplit("/", 1)[-1] or "other"


def _short(function: str, file: str) -> str:
    file = file.replace(str(ROOT) + "/", "")
    return f"{function} ({file})"


def summarise(raw: Path, requests: int, seconds: float, top: int = 25) -> str:
    """A Markdown summary of py-spy's collapsed stacks."""
    samples_by_thread: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own_by_package: Counter[str] = Counter()
    own: Counter[str] = Counter()
    main_total = idle = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0]
        is_main = "MainThread" in thread
        if not is_main and _idle(*_parse_with_line(frames[-1])):
            idle += count
            continue
        samples_by_thread["main thread (event loop)" if is_main else "other threads (aiosqlite's)"] += count
        parsed = [_parse(f) for f in frames[1:]]
        if not parsed:
            continue
        leaf_function, leaf_file = parsed[-1]
        own_by_package[("" if is_main else "[db thread] ") + _package(leaf_file)] += count
        own[_short(leaf_function, leaf_file)] += count
        if is_main:
            main_total += count
            seen = set()
            for function, file in parsed:
                if "web/" in file or file.endswith(".html"):
                    key = _short(function, file)
                    if key not in seen:
                        seen.add(key)
                        inclusive[key] += count
    total = sum(samples_by_thread.values())
    if not total:
        return "py-spy recorded no samples.\n"
    per_request = seconds / requests * 1e3 if requests else float("nan")

    threads = ", ".join(f"{k}: {v:,}" for k, v in samples_by_thread.items())
    out = [(f"py-spy: {total:,} busy samples ({threads}; {idle:,} more of aiosqlite's threads waiting on their "
            f"queues left out); {requests:,} responses in {seconds:.1f} s = {per_request:.2f} ms of wall time per "
            "response. A leaf in a Python function that called C (sqlite3, uvloop) counts there: `Runner.run` is the "
            "event loop's own C code; `_connection_worker_thread` in a db thread is the sqlite3 module in C: SQLite "
            "executing a query, or the thread waiting to take the GIL back between rows (py-spy cannot tell them "
            "apart)."), ""]
    out += ["Inclusive share of the event-loop thread's samples, the app's functions and templates:", "",
            "| function | share of main-thread samples |", "|---|---:|"]
    for key, count in inclusive.most_common(top):
        out.append(f"| `{key}` | {count / main_total * 100:.1f} % |")
    out += ["", "Own time by package (the frame on top of each sample), all threads:", "",
            "| package | share of all samples |", "|---|---:|"]
    for key, count in own_by_package.most_common(16):
        out.append(f"| {key} | {count / total * 100:.1f} % |")
    out += ["", f"Top {top} leaf functions, all threads:", "", "| function | share of all samples |", "|---|---:|"]
    for key, count in own.most_common(top):
        out.append(f"| `{key}` | {count / total * 100:.1f} % |")
    return "\n".join(out) + "\n"


def record_page(run_page, pid: int, seconds: float, results_dir: Path) -> str:
    """Run `run_page()` (a load run of `seconds`) with py-spy attached; returns the summary."""
    raw = results_dir / "page-py-spy.txt"
    log(f"py-spy: sampling the server (pid {pid}) during one more page run")
    process = start(pid, seconds, raw)
    result = run_page()
    output = finish(process)
    if not raw.exists():
        raise RuntimeError(f"py-spy wrote nothing:\n{output}")
    summary = summarise(raw, result.requests, result.seconds)
    header = (f"# Where the server's time goes: GET {result.path} under {result.clients} clients\n\n"
              f"{result.rate:,.1f} req/s, p95 {result.percentile_ms(95):.1f} ms, server CPU "
              f"{result.server_cpu_ms_per_request:.2f} ms per request while sampled (py-spy costs some).\n\n")
    (results_dir / "page-profile.md").write_text(header + summary, encoding="utf-8")
    return header + summary
