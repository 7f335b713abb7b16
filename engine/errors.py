"""Errors the engine raises; the API maps each to one HTTP status.

Two codes per error, for two readers:

- ``error.code`` (the class's ``code``: ``invalid_input``, ``conflict``, ``form_invalid``,
  ``stale``, ...) says what kind of failure it is; API clients branch on it. It never changes.
- ``details[].code`` says which problem it is: ``fell_due``, ``not_future``, ``step_closed``,
  ``required``, ... A refusal passes it as ``reason=`` and gets ``details=[{"code", "message"}]``
  built for it; a field problem is a :func:`problem` (``field``, ``code``, ``message``) in
  ``details``. Problem codes are stable snake_case identifiers, except that a form field's
  problem (``engine.forms``) carries the JSON Schema keyword that failed (``required``,
  ``maxLength``, ``type``, ...). A definition the engine cannot run keeps its details object
  ``{"element", "line"}`` and names its problem there as ``code``. A code, once raised, keeps
  its meaning: pages and clients key on it.

Messages are English, for logs and API clients, and may change. The pages never read them:
they show the Chinese label of the code (``api.web.labels``).
"""


def problem(field, code, message, **extra):
    """One entry of ``details``: what is wrong with ``field`` (``""``: the whole request)."""
    return {"field": field, "code": code, "message": message, **extra}


class EngineError(Exception):
    """Base class. ``code`` is the snake_case error code clients see (``error.code``).

    ``reason`` is the problem's own code (``details[].code``): given without ``details``, the
    details become ``[{"code": reason, "message": message}]``.
    """

    code = "engine_error"
    status = 500

    def __init__(self, message, details=None, reason=None):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.details = [{"code": reason, "message": message}] if reason and details is None else details

    def problems(self):
        """The details as a list of problems, each with ``field``, ``code`` and ``message``
        (a refusal without details: one problem of the whole request, code ``reason`` or None)."""
        if isinstance(self.details, list) and self.details:
            return [{"field": "", "code": None, **p} for p in self.details if isinstance(p, dict)]
        extra = self.details.get("code") if isinstance(self.details, dict) else None
        return [{"field": "", "code": self.reason or extra, "message": self.message}]


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


class ScriptLimitExceeded(Exception):
    """A BPMN script or expression would build a value, a number or instance data over the
    sandbox's size limits, or grew the process's memory past its ceiling (engine.script_guards,
    engine.scripting).

    Like :class:`ScriptTimeout`: SpiffWorkflow marks the task ERROR, the instance goes to
    ``error`` with the reason, and scripts cannot catch it (its name is not in their builtins).
    """
