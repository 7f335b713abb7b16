"""Compaction: a long-running instance's task tree stays as small as its live part (DESIGN,
"Keep instances small").

SpiffWorkflow keeps every finished task in the tree, and every load, step and save walks the
whole tree. A loop that runs for a year (a weekly progress report) adds a handful of tasks per
round, so without compaction week 52 costs several times week 1.

:func:`compact` drops the finished past. Every unfinished task descends from one deepest
finished task, the *cut* (the last task of the finished chain the live branches grew from).
The tasks outside the cut's subtree are all finished, and SpiffWorkflow never acts on them
again: they are removed, with the finished subprocesses they own, and the cut hangs directly
under the root. Everything SpiffWorkflow still acts on is kept: every unfinished task, its
ancestors up to the cut, and the finished siblings inside the cut's subtree (a join counts
those). Data lives on each task, so nothing it needs is lost.

Left alone: a workflow with nothing unfinished (its tree is its whole record), a task in
ERROR (a retry runs it again), and subprocess trees (a subprocess keeps its own tree until it
ends, then goes with its task). Trade-off: the tree no longer holds the finished history.
Duban's record of it is elsewhere: the ``human_task`` rows (what the pages and the diagram
marks read), the domain tables and the audit log.
"""
from SpiffWorkflow.util.task import TaskState

DONE = TaskState.COMPLETED | TaskState.CANCELLED


def compact(workflow):
    """Remove the finished tasks outside the cut's subtree; returns how many were removed."""
    root = workflow.task_tree
    live = _live_lineage(workflow)
    cut = root
    while True:
        lineage = [child for child in cut.children if child.id in live]
        if len(lineage) != 1 or not lineage[0].has_state(DONE):
            break
        cut = lineage[0]
    if cut is root or cut.parent is root and len(root.children) == 1:
        return 0
    keep = {task.id for task in cut} | {root.id}
    dropped = [task for task in workflow.tasks.values() if task.id not in keep]
    for task in dropped:
        if task.id in workflow.subprocesses:
            workflow.delete_subprocess(task)
    for task in dropped:
        del workflow.tasks[task.id]
        workflow.event_manager.remove_task(task)
    root._children, cut._parent = [cut.id], root.id
    if workflow.last_task is not None and workflow.last_task.id not in keep:
        workflow.last_task = cut
    return len(dropped)


def _live_lineage(workflow):
    """The ids of the tasks that are not done and of all their ancestors."""
    live = set()
    for task in workflow.tasks.values():
        if task.has_state(DONE):
            continue
        while task is not None and task.id not in live:
            live.add(task.id)
            task = task.parent
    return live
