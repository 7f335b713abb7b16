"""Load without loss (issue 14, part 5), the lean form of ``python -m bench.soak``.

``duban serve`` (2 processes) and a ``duban worker`` on the test PostgreSQL database; 4
concurrent clients work the supervision loop over HTTP through 2 simulated weeks of
registrations (and up to 4 more for every item to close) while an admin advances the clock day
by day and the worker is SIGKILLed twice and restarted. Then every invariant of
``bench.soak.check`` must hold: the audit history matches the task history, no task completed
and no timer fired twice, nothing due left waiting, the audit chain verifies, no request failed
(409s from races are expected and only counted). The outbox check (``bench.soak.check_outbox``)
runs once an ``outbox`` table exists, and is skipped only while there is none.
"""
import pytest

from bench import soak

POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@POSTGRESQL
def test_concurrent_clients_and_two_worker_kills_lose_and_double_nothing(database_url, tmp_path):
    figures = soak.run(database_url, tmp_path, **soak.LEAN, log=lambda *_: None)
    print("\n" + soak.report(figures))

    assert figures["problems"] == []
    assert figures["kills"] == 2 and figures["worker_runs"] == 3
    # The run did what it is for: items went round the loop, people raced, timers fired.
    assert figures["items"] >= 8
    assert figures["completions"] == figures["tasks_completed"] == figures["task_completed_records"]
    assert figures["late_on_purpose"] > 0
    assert {"escalate_plan", "escalate_report"} <= set(figures["fired_by_key"])
    assert figures["timers_fired"] == figures["timer_fired_records"] > 0
    assert figures["audit_verify"]["ok"]
