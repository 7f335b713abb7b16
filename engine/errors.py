"""Errors the engine raises; the API maps each to one HTTP status."""


class EngineError(Exception):
    """Base class. ``code`` is the snake_case error code clients see."""

    code = "engine_error"
    status = 500

    def __init__(self, message, details=None):
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(EngineError):
    code, status = "invalid_input", 400


class InvalidDefinition(InvalidInput):
    code = "invalid_definition"


class FormInvalid(InvalidInput):
    code = "form_invalid"


class NotFound(EngineError):
    code, status = "not_found", 404


class Forbidden(EngineError):
    code, status = "forbidden", 403


class Conflict(EngineError):
    code, status = "conflict", 409


class StaleInstance(Conflict):
    """Another unit of work saved the instance first (optimistic check failed)."""

    code = "stale"


class ScriptRejected(EngineError):
    """The sandbox refused a script or expression (imports, dunders, syntax)."""

    code, status = "script_rejected", 400


class ScriptTimeout(Exception):
    """A BPMN script or expression ran past the configured time limit.

    An ``Exception`` (not ``BaseException``) on purpose: SpiffWorkflow then marks the task
    ERROR, and the engine records the instance as in error. Scripts cannot catch it: the
    sandbox refuses catch-all handlers and ``finally``.
    """
