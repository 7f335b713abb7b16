"""Evidence files (佐证材料): stored content-addressed, referenced by task forms, items,
problems and complaints (``evidence``); see ``evidence.py`` for the contract."""
from workflows.files import evidence


def register(registry):
    registry.before_complete(None)(evidence.before_complete)
    registry.on("task_completed")(evidence.on_task_completed)
    registry.on("instance_started")(evidence.on_instance_started)
    registry.periodic("files_prune", evidence.prune_occurrence, evidence.run_prune)
