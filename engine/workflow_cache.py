"""A per-process cache of each instance's workflow as its last command here left it (issue 18).

Loading an instance (``serialization.load``: rebuilding SpiffWorkflow's task tree from JSON) is
a good part of every command, and consecutive commands on one instance often land on the same
process. So after a command commits, the unit of work keeps its workflow here, keyed by the
instance id with the version it saved; the next command on that instance **takes** it when the
stored version (read with the row, as always) still equals that version, else loads from JSON.

**Contract.**

* *Valid while the stored version matches.* Every save bumps the version (``UPDATE … WHERE
  version = :v``), so a command committed by another process, or any write that moves the
  version, makes the entry stale: it is dropped, never used.
* *Taken, not shared.* :meth:`WorkflowCache.take` removes the entry, so one command at a time
  owns the object (threads of a gunicorn ``gthread`` worker: one lock guards the map). A
  command that fails in any way — refused, lost race, database error, model error saved as
  the instance's error — never puts it back: a workflow a failed command touched is never
  reused. Only a command that committed with the instance ``running`` puts its workflow back.
* *Bounded*: ``[engine] workflow_cache_size`` instances (least recently used first out; 0
  turns it off). Measured: a supervision item's workflow (4.4 KB of state) holds about 25 KB,
  so the default 256 cost a process some 6 MB.

Trade-off: a hit skips the JSON round trip, so a value a script left in task data that JSON
would change (a tuple becomes a list, an integer dict key a string) keeps its Python type
until the next miss. The stored state is the same either way: every save dumps the workflow.
"""
import collections
import threading

from engine import metrics

DEFAULT_SIZE = 256


class WorkflowCache:
    def __init__(self, size=DEFAULT_SIZE):
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"[engine] workflow_cache_size must be a whole number >= 0, not {size!r}")
        self.size = size
        self._entries = collections.OrderedDict()  # instance id -> (version, workflow)
        self._lock = threading.Lock()
        self.hits = self.misses = self.stale = 0

    @classmethod
    def from_config(cls, config):
        return cls(config.get("engine", {}).get("workflow_cache_size", DEFAULT_SIZE))

    def take(self, instance_id, version):
        """The cached workflow of ``instance_id`` if it is the one saved as ``version``, else
        None; either way the entry is gone (the caller owns the workflow now)."""
        with self._lock:
            entry = self._entries.pop(instance_id, None)
            if entry is None:
                self.misses += 1
                outcome, workflow = "miss", None
            elif entry[0] != version:
                self.stale += 1
                outcome, workflow = "stale", None
            else:
                self.hits += 1
                outcome, workflow = "hit", entry[1]
        metrics.child(metrics.WORKFLOW_CACHE, outcome).inc()
        return workflow

    def put(self, instance_id, version, workflow):
        """Keep ``workflow``, as saved with ``version``, for the instance's next command."""
        if not self.size:
            return
        with self._lock:
            self._entries[instance_id] = (version, workflow)
            self._entries.move_to_end(instance_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def drop(self, instance_id):
        with self._lock:
            self._entries.pop(instance_id, None)

    def clear(self):
        with self._lock:
            self._entries.clear()

    def stats(self):
        """``{hits, misses, stale, hit_rate, entries}`` since this process started."""
        with self._lock:
            looked = self.hits + self.misses + self.stale
            return {"hits": self.hits, "misses": self.misses, "stale": self.stale,
                    "hit_rate": round(self.hits / looked, 3) if looked else None,
                    "entries": len(self._entries)}
