"""``python -m bench`` (``make bench``): run the benchmarks, print the table, write results JSON."""
import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
import traceback

from bench import engine_ceiling, http_e2e, inbox_scale, long_running, timer_drain
from bench.common import PG_SERVER, RESULTS, REPO, Scratch

NAMES = ("engine", "http", "inbox", "long", "timers")


def plan(scale, quick):
    """Workload sizes: ``scale`` 1 is the issue's (100,000 items, 10,000 timers, 52 weeks)."""
    if quick:
        return {"engine": dict(loops=20, rounds=4),
                "http": dict(seconds=5, clients=8, threads=8, processes=2),
                "inbox": dict(items=max(100, int(10_000 * scale)), repeats=20),
                "long": dict(items=2, weeks=26), "timers": dict(timers=max(20, int(500 * scale)))}
    return {"engine": dict(loops=100, rounds=5),
            "http": dict(seconds=20, clients=8, threads=8, processes=2),
            "inbox": dict(items=max(100, int(100_000 * scale)), repeats=50),
            "long": dict(items=3, weeks=52), "timers": dict(timers=max(20, int(10_000 * scale)))}


def machine():
    def sh(*args):
        try:
            return subprocess.run(args, capture_output=True, text=True, timeout=10).stdout.strip()
        except OSError:
            return None
    meminfo = dict(line.split(":", 1) for line in open("/proc/meminfo").read().splitlines() if ":" in line)
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    def pressure():
        try:  # share of time some runnable task waited for a CPU (PSI): the noisy neighbours
            return open("/proc/pressure/cpu").readline().split()[1:4]
        except OSError:
            return None
    return {"nproc": os.cpu_count(), "cpu_pressure_start": pressure(), "cpu": model, "mem_total": meminfo.get("MemTotal", "").strip(),
            "free_h": sh("free", "-h"), "loadavg_start": open("/proc/loadavg").read().split()[:3],
            "python": platform.python_version(), "platform": platform.platform(),
            "commit": sh("git", "-C", str(REPO), "rev-parse", "--short", "HEAD"), "postgres": PG_SERVER.split("@")[-1]}


def run(only=NAMES, scale=1.0, quick=False, profile=True, log=print, out=None, processes=None):
    """Run the selected benchmarks; returns the results document (also written to ``out``).
    ``processes`` overrides the HTTP benchmark's ``[server] processes``."""
    sizes = plan(scale, quick)
    if processes is not None:
        sizes["http"] = {**sizes["http"], "processes": processes}
    document = {"started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "scale": scale, "quick": quick, "machine": machine(), "benchmarks": [], "errors": []}
    scratch = Scratch()
    started = time.perf_counter()
    try:
        for name in only:
            log(f"== {name} {sizes[name]}")
            t0 = time.perf_counter()
            try:
                if name == "engine":
                    results = [engine_ceiling.run(scratch, log=log, **sizes[name])]
                elif name == "http":
                    http, memory, _runs = http_e2e.run(scratch, profile=profile, log=log, **sizes[name])
                    results = [http, memory]
                elif name == "inbox":
                    results = [inbox_scale.run(scratch, log=log, **sizes[name])]
                elif name == "long":
                    results = [long_running.run(scratch, profile=profile, log=log, **sizes[name])]
                else:
                    results = [timer_drain.run(scratch, log=log, **sizes[name])]
            except Exception as err:  # noqa: BLE001 — one broken benchmark must not hide the others
                document["errors"].append({"benchmark": name, "error": repr(err),
                                           "traceback": traceback.format_exc()[-4000:]})
                log(f"  FAILED: {err!r}")
                continue
            for result in results:
                entry = result.as_dict()
                entry["seconds"] = round(time.perf_counter() - t0, 1)
                document["benchmarks"].append(entry)
    finally:
        scratch.close()
    document["seconds"] = round(time.perf_counter() - started, 1)
    document["machine"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    try:
        document["machine"]["cpu_pressure_end"] = open("/proc/pressure/cpu").readline().split()[1:4]
    except OSError:
        pass
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(document, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return document


def _fmt(value):
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def table(document):
    """The results as a plain-text (Markdown-compatible) table."""
    lines = []
    m = document["machine"]
    lines.append(f"machine: {m['nproc']} cores ({m['cpu']}), {m['mem_total']}, load {' '.join(m['loadavg_start'])}"
                 f" → {' '.join(m.get('loadavg_end', []))}; commit {m['commit']}; scale {document['scale']}"
                 f"{' (quick)' if document['quick'] else ''}")
    if m.get("cpu_pressure_start"):
        lines.append(f"CPU pressure (PSI some, start → end): {' '.join(m['cpu_pressure_start'])} → "
                     f"{' '.join(m.get('cpu_pressure_end') or [])}")
    for bench in document["benchmarks"]:
        lines.append("")
        lines.append(f"### {bench['title']}")
        lines.append(f"workload: {bench['workload']}")
        base = bench["baseline"]
        lines.append(f"baseline: {base['label']}" + (f" = {_fmt(base['value'])} {base['unit']}"
                                                     if base.get("value") is not None else ""))
        lines.append("")
        lines.append("| measurement | value | unit | ratio to baseline | p95 ms | notes |")
        lines.append("|---|---:|---|---:|---:|---|")
        for row in bench["rows"]:
            extra = {k: v for k, v in row.items() if k not in ("label", "value", "unit", "ratio", "p95_ms",
                                                               "rounds", "cpu_ms_per_completion")}
            note = ", ".join(f"{k}={_fmt(v)}" for k, v in extra.items() if not isinstance(v, (dict, list)))
            if "cpu_cores_busy" in row:
                note += "; cores busy " + ", ".join(f"{k} {v}" for k, v in row["cpu_cores_busy"].items())
            lines.append(f"| {row['label']} | {_fmt(row['value'])} | {row['unit']} | {_fmt(row['ratio'])} | "
                         f"{_fmt(row.get('p95_ms'))} | {note} |")
        for target in bench["targets"]:
            mark = {True: "MET", False: "MISSED", None: "n/a"}[target["met"]]
            lines.append(f"- target {target['label']}: {_fmt(target['value'])} ({target['target']}) → **{mark}**")
        for note in bench["notes"]:
            if isinstance(note, str):
                lines.append(f"- {note}")
    issue18 = [target for bench in document["benchmarks"] for target in bench["targets"]
               if target.get("issue") == 18]
    if issue18:
        lines.append("")
        lines.append("### Issue 18 targets (this run)")
        for target in issue18:
            mark = {True: "MET", False: "MISSED", None: "n/a"}[target["met"]]
            lines.append(f"- {target['label']}: {_fmt(target['value'])} ({target['target']}) → **{mark}**")
    for error in document["errors"]:
        lines.append(f"\n!! {error['benchmark']} failed: {error['error']}")
    lines.append(f"\ntotal {document['seconds']} s")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default=",".join(NAMES), help=f"comma-separated subset of {', '.join(NAMES)}")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="data size for inbox and timers (1 = 100,000 items / 10,000 timers)")
    parser.add_argument("--quick", action="store_true", help="short runs of everything (about two minutes)")
    parser.add_argument("--no-profile", action="store_true", help="skip py-spy / pyinstrument")
    parser.add_argument("--processes", type=int, metavar="N",
                        help="[server] processes of `duban serve` in the HTTP benchmark (default 2)")
    parser.add_argument("--out", default=str(RESULTS / "latest.json"))
    parser.add_argument("--table", metavar="JSON", help="only print the table of an earlier results file")
    args = parser.parse_args(argv)
    if args.table:
        print(table(json.loads(open(args.table, encoding="utf-8").read())))
        return 0
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(only) - set(NAMES)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    from pathlib import Path
    if args.processes is not None and args.processes < 1:
        parser.error("--processes must be at least 1")
    document = run(only, args.scale, args.quick, not args.no_profile, out=Path(args.out),
                   processes=args.processes)
    print()
    print(table(document))
    print(f"\nresults: {args.out}")
    return 1 if document["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
