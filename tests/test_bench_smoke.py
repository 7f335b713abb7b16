"""Every benchmark at a tiny scale (seconds): the bench code runs, and its results have the
documented structure. Timings are never asserted (the machine is shared and noisy)."""
import json

from bench.__main__ import NAMES, run, table

ROW_KEYS = {"label", "value", "unit", "ratio"}


def test_every_benchmark_runs_at_tiny_scale(tmp_path, monkeypatch):
    monkeypatch.setattr("bench.__main__.plan", lambda scale, quick: {
        "engine": dict(loops=2, rounds=2), "http": dict(seconds=1.0, clients=2, threads=2),
        "inbox": dict(items=40, repeats=2), "long": dict(items=1, weeks=3),
        "timers": dict(timers=5)})
    monkeypatch.setattr("bench.long_running.RESULTS", tmp_path)
    out = tmp_path / "latest.json"
    document = run(NAMES, profile=False, log=lambda *_: None, out=out)

    assert document["errors"] == []
    assert json.loads(out.read_text(encoding="utf-8"))["benchmarks"] == json.loads(
        json.dumps(document["benchmarks"], default=str))
    assert document["machine"]["nproc"] >= 1
    names = [b["name"] for b in document["benchmarks"]]
    assert names == ["engine_ceiling", "http_e2e", "memory", "inbox_scale", "long_running", "timer_drain"]
    for bench in document["benchmarks"]:
        assert bench["workload"] and bench["baseline"]["label"] and bench["rows"], bench["name"]
        for row in bench["rows"]:
            assert ROW_KEYS <= set(row), (bench["name"], row)
        for target in bench["targets"]:
            assert {"label", "target", "value", "met"} <= set(target)
            assert target["met"] in (True, False, None)
    by_name = {b["name"]: b for b in document["benchmarks"]}

    engine = by_name["engine_ceiling"]
    assert [r["label"] for r in engine["rows"]][:1] == ["ceiling"] and engine["rows"][0]["ratio"] == 1.0
    assert all(r["value"] > 0 for r in engine["rows"])

    http = by_name["http_e2e"]
    completions = [r for r in http["rows"] if r["label"].endswith(": completions")]
    assert {r["label"].split(":")[0] for r in completions} == {"PostgreSQL", "SQLite"}
    assert all(r["errors"] == 0 for r in completions)
    assert all(r["value"] > 0 for r in completions)
    assert all(t["met"] for t in http["targets"] if "errors" in t["label"])

    memory = by_name["memory"]
    assert all(r["value"] > 0 and r["unit"] == "MB" for r in memory["rows"])

    inbox = by_name["inbox_scale"]
    data = [r for r in inbox["rows"] if r["label"].endswith(": data")]
    assert [r["value"] for r in data] == [400, 400]
    assert any(r["total"] for r in inbox["rows"] if "inbox, staff" in r["label"])
    plans = [n for n in inbox["notes"] if isinstance(n, dict)]
    assert len(plans) == 2 and all(next(iter(p.values())) for p in plans)

    long = by_name["long_running"]
    assert long["targets"][0]["value"] > 0
    assert {r["label"] for r in long["rows"]} >= {"task tree size", "instance state JSON"}

    timers = by_name["timer_drain"]
    base = timers["rows"][0]
    assert base["left_waiting"] == 0 and base["instances_woken"] == 5 and base["value"] > 0
    workers = timers["rows"][1:]
    assert [r["label"] for r in workers] == ["1 × duban worker", "2 × duban worker"]
    assert all(r["value"] is None and r["status"] == "not available" for r in workers) or \
        all(r["value"] > 0 for r in workers)

    text = table(document)
    assert "Engine ceiling" in text and "ratio to baseline" in text
