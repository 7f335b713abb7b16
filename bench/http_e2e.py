"""Benchmark 2 — HTTP end to end (and benchmark 5 — memory of the serve process under it).

Workload: a real ``duban serve`` subprocess on a bench database, by default with
``[server] processes = 2`` (a prefork master and two gunicorn workers, each with
``[server] threads``; ``processes = 1`` is waitress in one process); C client threads, each with ``requests.Session``s holding pre-issued tokens, run
the supervision loop over HTTP as fast as they can for D seconds: the secretariat registers an
item (POST /items), the department finds its task (GET /tasks?item_id=), then every step is a
POST /tasks/{id}/complete whose ``next_tasks`` names the next one. Each client has its own
department and leader (so no two clients race for one task). Baseline, same server, same
clients, measured just before: GET /api/v1/me (token check and a small JSON answer), the
per-request floor of the HTTP stack. Memory: VmHWM (peak RSS) of a serving process from
/proc/<pid>/status — the serve process, or the largest of its workers — after start-up +
logins (baseline) and after the load.
"""
import contextlib
import threading
import time

import requests

from bench import workload
from bench.common import Result, latency_summary, ratio
from bench.profiling import CpuMeter, SpyRecorder
from bench.server import Serve, seed_organisation

TARGET_RATE, TARGET_P95_MS, TARGET_HWM_MB = 300, 50, 250


def people(clients):
    departments = {"office": "政府办公室", **{f"bd{k}": f"部门{k}" for k in range(clients)}}
    users = {"sec": ("office", ["secretariat"])}
    for k in range(clients):
        users[f"staff_bd{k}"] = (f"bd{k}", ["staff"])
        users[f"lead{k}"] = ("office", ["leader"])
    return departments, users


class Client(threading.Thread):
    def __init__(self, server, k, tokens, start_barrier, deadline_box):
        super().__init__(daemon=True)
        self.server, self.k = server, k
        self.sessions = {"sec": server.session(tokens["sec"]),
                         "staff": server.session(tokens[f"staff_bd{k}"]),
                         "leader": server.session(tokens[f"lead{k}"])}
        self.barrier, self.deadline_box = start_barrier, deadline_box
        self.latency = {"create": [], "inbox": [], "complete": [], "me": []}
        self.errors, self.error_samples, self.loops = 0, [], 0
        self.mode = "loop"

    def call(self, kind, who, method, path, **kwargs):
        start = time.perf_counter()
        try:
            response = self.sessions[who].request(method, self.server.base + path, timeout=60, **kwargs)
        except requests.RequestException as err:
            self.errors += 1
            self.error_samples.append(f"{kind}: {err!r}"[:300])
            return None
        self.latency[kind].append(time.perf_counter() - start)
        if response.status_code >= 400:
            self.errors += 1
            self.error_samples.append(f"{kind}: {response.status_code} {response.text[:200]}")
            return None
        return response.json()

    def loop(self):
        item = {**workload.item_data(f"bd{self.k}", workload.next_number()), "leader": f"lead{self.k}"}
        created = self.call("create", "sec", "POST", "/api/v1/items", json=item)
        if created is None:
            return False
        inbox = self.call("inbox", "staff", "GET", "/api/v1/tasks", params={"item_id": created["id"]})
        if not inbox or not inbox["items"]:
            return False
        task_id = inbox["items"][0]["id"]
        for index, (_key, who, data) in enumerate(workload.STEPS):
            if time.perf_counter() > self.deadline_box[0]:
                return False
            answer = self.call("complete", who, "POST", f"/api/v1/tasks/{task_id}/complete",
                               json={"data": data})
            if answer is None:
                return False
            if index + 1 < len(workload.STEPS):
                wanted = workload.STEPS[index + 1][0]
                task_id = next((t["id"] for t in answer["next_tasks"] if t["key"] == wanted), None)
                if task_id is None:
                    self.errors += 1
                    self.error_samples.append(f"no {wanted} in next_tasks")
                    return False
        return True

    def run(self):
        self.barrier.wait()
        while time.perf_counter() < self.deadline_box[0]:
            if self.mode == "me":
                self.call("me", "staff", "GET", "/api/v1/me")
            elif self.loop():
                self.loops += 1


def _drive(server, tokens, clients, seconds, mode):
    barrier = threading.Barrier(clients + 1)
    deadline = [float("inf")]
    threads = [Client(server, k, tokens, barrier, deadline) for k in range(clients)]
    for thread in threads:
        thread.mode = mode
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    deadline[0] = start + seconds
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    merged = {kind: [v for t in threads for v in t.latency[kind]] for kind in threads[0].latency}
    errors = sum(t.errors for t in threads)
    samples = [s for t in threads for s in t.error_samples][:5]
    return merged, elapsed, errors, samples, sum(t.loops for t in threads)


def run_backend(scratch, backend, clients=8, threads=8, seconds=20, warmup_loops=1, profile=False,
                log=print, processes=2):
    url = scratch.postgres("http") if backend == "postgresql" else scratch.sqlite("http", migrate=False)
    server = Serve(scratch.dir, url, f"http_{backend}", threads=threads, processes=processes).init()
    departments, users = people(clients)
    seed_organisation(url, departments, users)
    with server.start():
        tokens = {name: server.login(name) for name in users}
        for k in range(clients):  # warm up every path once (imports, spec cache, pools)
            warm = Client(server, k, tokens, None, [float("inf")])
            for _ in range(warmup_loops):
                warm.loop()
        idle = server.memory()
        me, me_elapsed, me_errors, _samples, _ = _drive(server, tokens, clients, max(1.0, seconds / 4), "me")
        spy = SpyRecorder(server.process.pid, scratch.dir / f"http_{backend}.pyspy.txt",
                          subprocesses=processes > 1) if profile else None
        with spy or contextlib.nullcontext(), CpuMeter(server.process.pid) as cpu:
            lat, elapsed, errors, samples, loops = _drive(server, tokens, clients, seconds, "loop")
        loaded = server.memory()
    completions = len(lat["complete"])
    out = {
        "backend": backend, "clients": clients, "server_threads": threads, "server_processes": processes,
        "seconds": round(elapsed, 2),
        "loops": loops, "completions": completions,
        "completions_per_s": round(completions / elapsed, 2),
        "requests_per_s": round(sum(len(v) for v in lat.values()) / elapsed, 2),
        "complete": latency_summary(lat["complete"]), "create": latency_summary(lat["create"]),
        "inbox": latency_summary(lat["inbox"]), "errors": errors + me_errors, "error_samples": samples,
        "baseline_me": {**latency_summary(me["me"]), "requests_per_s": round(len(me["me"]) / me_elapsed, 2)},
        "memory_idle": idle, "memory_loaded": loaded,
        "profile": spy.summary() if spy else None,
        "cpu_ms_per_completion": {name: round(1000 * value / max(1, len(lat["complete"])), 2)
                                  for name, value in cpu.seconds().items()},
        "cpu_cores_busy": {name: round(value / elapsed, 2) for name, value in cpu.seconds().items()},
    }
    log(f"  {backend} ({processes} process{'es' if processes > 1 else ''}): "
        f"{out['completions_per_s']} completions/s, complete p50 {out['complete']['p50_ms']} / p95 "
        f"{out['complete']['p95_ms']} ms, errors {out['errors']}, VmHWM {loaded.get('VmHWM_kb')} kB")
    return out


def run(scratch, clients=8, threads=8, seconds=20, backends=("postgresql", "sqlite"), profile=False,
        log=print, processes=2):
    runs = [run_backend(scratch, backend, clients, threads, seconds, profile=profile, log=log,
                        processes=processes)
            for backend in backends]
    server = ("waitress, one process" if processes == 1 else
              f"gunicorn, {processes} worker processes")
    serving = "the serve process" if processes == 1 else "a serve worker (the largest of its workers)"
    http = Result(
        "http_e2e", "HTTP end to end: supervision loop through `duban serve`",
        f"{clients} client threads × {seconds} s per database against `duban serve` "
        f"([server] processes = {processes}, threads = {threads}: {server}); "
        "loop = POST /items, GET /tasks, 7 × POST complete",
        {"label": "GET /api/v1/me, same server and clients (per database)", "value": None,
         "unit": "ms p50"})
    memory = Result(
        "memory", "Memory: peak RSS of a serve process under the HTTP load",
        f"VmHWM of {serving} after the HTTP end-to-end load above "
        f"([server] processes = {processes})",
        {"label": "VmHWM after start-up and logins, before load (per database)", "value": None,
         "unit": "MB"})
    for out in runs:
        base = out["baseline_me"]
        name = "PostgreSQL" if out["backend"] == "postgresql" else "SQLite"
        http.row(f"{name}: GET /me (baseline)", base["p50_ms"], "ms p50", 1.0,
                 p95_ms=base["p95_ms"], requests_per_s=base["requests_per_s"])
        http.row(f"{name}: completions", out["completions_per_s"], "completions/s", None,
                 **{k: out[k] for k in ("requests_per_s", "loops", "errors", "seconds",
                                        "cpu_cores_busy", "cpu_ms_per_completion")})
        for kind in ("complete", "create", "inbox"):
            stats = out[kind]
            http.row(f"{name}: {kind} latency", stats["p50_ms"], "ms p50", ratio(stats["p50_ms"], base["p50_ms"]),
                     p95_ms=stats["p95_ms"], p99_ms=stats["p99_ms"], n=stats["n"])
        if out["backend"] == "postgresql":
            http.target("PostgreSQL completions/s ≥ 300", f">= {TARGET_RATE}", out["completions_per_s"],
                        out["completions_per_s"] >= TARGET_RATE)
        http.target(f"{name} complete p95 ≤ 50 ms", f"<= {TARGET_P95_MS}", out["complete"]["p95_ms"],
                    out["complete"]["p95_ms"] is not None and out["complete"]["p95_ms"] <= TARGET_P95_MS)
        http.target(f"{name} errors = 0", "== 0", out["errors"], out["errors"] == 0)
        if out["profile"]:
            http.notes.append({f"{name} serve profile (py-spy --gil, % of samples)": out["profile"]})
        if out["error_samples"]:
            http.notes.append(f"{name} errors: {out['error_samples']}")
        idle_mb = out["memory_idle"].get("VmHWM_kb", 0) / 1024
        peak_mb = out["memory_loaded"].get("VmHWM_kb", 0) / 1024
        memory.row(f"{name}: VmHWM before load (baseline)", round(idle_mb, 1), "MB", 1.0)
        loaded = out["memory_loaded"]
        extra = {}
        if loaded.get("workers"):  # several processes: the whole server's footprint too
            extra = {"workers": len(loaded["workers"]),
                     "workers_VmRSS_sum_mb": round(sum(w["VmRSS_kb"] for w in loaded["workers"].values())
                                                   / 1024, 1),
                     "master_VmHWM_mb": round((loaded.get("master_VmHWM_kb") or 0) / 1024, 1)}
        memory.row(f"{name}: VmHWM after load", round(peak_mb, 1), "MB", ratio(peak_mb, idle_mb),
                   VmRSS_mb=round(loaded.get("VmRSS_kb", 0) / 1024, 1), **extra)
        memory.target(f"{name} VmHWM ≤ 250 MB", f"<= {TARGET_HWM_MB}", round(peak_mb, 1), peak_mb <= TARGET_HWM_MB)
    return http, memory, runs
