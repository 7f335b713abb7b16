"""Profiler evidence: py-spy on a running process (``duban serve``), pyinstrument in-process.

Both are optional (the ``bench`` extra installs them); without them a benchmark still runs and
says the profile is not available.
"""
import collections
import os
import shutil
import subprocess
import sys
from pathlib import Path

OWN = ("engine/", "workflows/", "api/", "bench/")
LIBRARIES = {"sqlalchemy": "sqlalchemy", "SpiffWorkflow": "SpiffWorkflow", "psycopg": "psycopg",
             "sqlite3": "sqlite3", "jsonschema": "jsonschema", "marshmallow": "marshmallow",
             "apiflask": "apiflask", "flask": "flask", "werkzeug": "werkzeug", "waitress": "waitress",
             "gunicorn": "gunicorn", "json": "json", "RestrictedPython": "RestrictedPython"}


def py_spy():
    path = Path(sys.executable).parent / "py-spy"
    return str(path) if path.exists() else shutil.which("py-spy")


class SpyRecorder:
    """``py-spy record --gil --format raw`` of a pid (and with ``subprocesses`` its children,
    e.g. the workers of a prefork ``duban serve``) while a block runs; ``summary()`` after."""

    def __init__(self, pid, out_path, rate=200, subprocesses=False):
        self.pid, self.out, self.rate = pid, Path(out_path), rate
        self.subprocesses = subprocesses
        self.process, self.error = None, None

    def __enter__(self):
        binary = py_spy()
        if binary is None:
            self.error = "py-spy not installed (pip install -e '.[bench]')"
            return self
        self.process = subprocess.Popen(
            [binary, "record", "--pid", str(self.pid), "--format", "raw", "--rate", str(self.rate),
             "--output", str(self.out), "--nonblocking", "--gil",
             *(["--subprocesses"] if self.subprocesses else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self

    def __exit__(self, *exc):
        if self.process is None:
            return
        self.process.send_signal(2)  # SIGINT: py-spy writes its output and exits
        try:
            _out, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _out, err = self.process.communicate()
        if not self.out.exists():
            self.error = f"py-spy wrote nothing: {err.decode(errors='replace')[-300:]}"

    def summary(self, top=25):
        if self.error or not self.out.exists():
            return {"available": False, "reason": self.error or "no profile"}
        return summarise_collapsed(self.out.read_text(), top)


def _frame_owner(frame):
    """'function (path:line)' → a readable label for our code, or the library's name."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    library_path = "site-packages" in where or any(f"{marker}/" in where for marker in LIBRARIES)
    for own in OWN:
        if own in where and not library_path:
            path = where[where.index(own):].split(":")[0]
            return f"{path}:{name}"
    for marker, label in LIBRARIES.items():
        if f"/{marker}/" in where or where.startswith(marker):
            return label
    return None


def summarise_collapsed(text, top=25):
    """Inclusive share of samples per own function and per library. Recorded with ``--gil``, a
    sample is the thread holding the GIL, i.e. where the process's Python CPU time goes."""
    own, libraries, leaves, busy = collections.Counter(), collections.Counter(), collections.Counter(), 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        busy += int(count)
        # self time: the innermost frame that belongs to our code or a known library
        leaf = next((label for label in map(_frame_owner, reversed(frames)) if label), "other")
        leaves["own code" if "/" in leaf else leaf] += int(count)
        seen_own, seen_lib = set(), set()
        for frame in frames:
            label = _frame_owner(frame)
            if label is None:
                continue
            target = own if "/" in label else libraries
            seen = seen_own if target is own else seen_lib
            if label not in seen:
                seen.add(label)
                target[label] += int(count)
    share = lambda c: round(100 * c / busy, 1) if busy else 0.0  # noqa: E731
    return {"available": True, "busy_samples": busy,
            "own_functions_pct": [[label, share(c)] for label, c in own.most_common(top)],
            "libraries_pct": [[label, share(c)] for label, c in libraries.most_common(12)],
            "self_pct": [[label, share(c)] for label, c in leaves.most_common(12)]}


def pyinstrument_text(fn, interval=0.0005):
    """Run ``fn()`` under pyinstrument; returns (result, text report or None)."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return fn(), None
    profiler = Profiler(interval=interval)
    profiler.start()
    try:
        result = fn()
    finally:
        profiler.stop()
    return result, profiler.output_text(unicode=False, color=False, show_all=False)


def _ticks(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def children(pid):
    """Live child processes of ``pid`` (e.g. the workers of a prefork ``duban serve``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return sorted(found)


def _postgres_pids():
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


class CpuMeter:
    """CPU seconds used during a block by: the serve process and its children (the workers
    when it runs several processes), this (client) process, all PostgreSQL processes, and the
    whole machine (/proc/stat), to show where the cores went."""

    HZ = os.sysconf("SC_CLK_TCK")

    def __init__(self, serve_pid):
        self.serve_pid = serve_pid

    def _sample(self):
        machine = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        busy = sum(int(v) for i, v in enumerate(machine) if i not in (3, 4))  # minus idle, iowait
        pg = {pid: _ticks(pid) for pid in _postgres_pids()}
        serve = {pid: _ticks(pid) for pid in [self.serve_pid, *children(self.serve_pid)]}
        return {"serve": serve, "client": _ticks(os.getpid()), "postgres": pg,
                "machine_busy": busy}

    def __enter__(self):
        self.before = self._sample()
        return self

    def __exit__(self, *exc):
        self.after = self._sample()

    def seconds(self):
        before, after = self.before, self.after
        pg = sum(after["postgres"][pid] - before["postgres"].get(pid, 0) for pid in after["postgres"])
        serve = sum(after["serve"][pid] - before["serve"].get(pid, 0) for pid in after["serve"])
        return {"serve": serve / self.HZ,
                "client": (after["client"] - before["client"]) / self.HZ,
                "postgres": pg / self.HZ,
                "machine_busy": (after["machine_busy"] - before["machine_busy"]) / self.HZ}
