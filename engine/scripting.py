"""The restricted script engine (DESIGN invariant 8): BPMN scripts are not trusted code.

Every script, condition, timer expression and task property expression is compiled with
RestrictedPython's AST guards: no imports, no dunder attribute access, no ``open``, only the
builtins below and the functions the registry exposes. Each run is bounded in time by a
trace function that raises :class:`ScriptTimeout` at the first line executed past the
deadline. Trade-off: a single long C-level call (``sum(range(10**12))``) is not interrupted
until it returns; ``range`` is therefore capped to a bounded size.

SpiffWorkflow's deserializer gives back its default, unsandboxed engine: the unit of work
attaches :func:`make_script_engine` after every load.
"""
import ast
import json
import operator
import sys
import threading
import time

from RestrictedPython import compile_restricted, safe_globals, utility_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (full_write_guard, guarded_iter_unpack_sequence,
                                     guarded_unpack_sequence, safer_getattr)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

from engine.errors import ScriptRejected, ScriptTimeout

_INPLACE = {"+=": operator.iadd, "-=": operator.isub, "*=": operator.imul,
            "/=": operator.itruediv, "//=": operator.ifloordiv, "%=": operator.imod}
_MAX_RANGE = 1_000_000


def _limited_range(*args):
    result = range(*args)
    if len(result) > _MAX_RANGE:
        raise ValueError(f"range() longer than {_MAX_RANGE} is not allowed in scripts")
    return result


def _restricted_globals(functions):
    builtins = {**safe_globals["__builtins__"], **utility_builtins,
                "dict": dict, "list": list, "sum": sum, "min": min, "max": max,
                "any": any, "all": all, "enumerate": enumerate, "range": _limited_range}
    return {"__builtins__": builtins, "_getattr_": safer_getattr,
            "_getitem_": default_guarded_getitem, "_getiter_": default_guarded_getiter,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence, "_write_": full_write_guard,
            "_inplacevar_": lambda op, x, y: _INPLACE[op](x, y), **functions}


# Names refused outright, so a deploy fails at once instead of the instance at run time.
_FORBIDDEN_NAMES = frozenset({"exec", "eval", "compile", "open", "globals", "locals", "vars",
                              "__import__", "input", "breakpoint", "getattr", "setattr",
                              "delattr", "type", "memoryview", "help", "dir"})


_CATCH_ALL = frozenset({"Exception", "BaseException"})


def _catches_all(handler):
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(kind is None or (isinstance(kind, ast.Name) and kind.id in _CATCH_ALL) for kind in kinds)


def _precheck(tree):
    """Refuse what the sandbox cannot police at run time.

    Catch-all handlers and ``finally`` blocks are refused because Python switches tracing off
    once the time limit's exception is raised: code that caught it could loop forever.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and _catches_all(node):
            raise ScriptRejected(f"script rejected by the sandbox: line {node.lineno}: catch-all "
                                 "'except' is not allowed; name the exceptions to handle", reason="catch_all")
        if isinstance(node, ast.Try) and node.finalbody:
            raise ScriptRejected(f"script rejected by the sandbox: line {node.lineno}: "
                                 "'finally' is not allowed in scripts", reason="finally")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            raise ScriptRejected(f"script rejected by the sandbox: line {node.lineno}: imports are not allowed",
                                 reason="import")
        if isinstance(node, ast.Name) and node.id in _FORBIDDEN_NAMES:
            raise ScriptRejected(f"script rejected by the sandbox: line {node.lineno}: "
                                 f"'{node.id}' is not available to scripts", reason="forbidden_name")


_compiled = {}
_compiled_lock = threading.Lock()


def compile_script(source, mode="exec"):
    """Compile under the sandbox's rules; raise :class:`ScriptRejected` with the reason."""
    key = (source, mode)
    code = _compiled.get(key)
    if code is None:
        try:
            _precheck(ast.parse(source, mode=mode))
            code = compile_restricted(source, "<string>", mode)
        except SyntaxError as err:  # RestrictedPython reports policy violations as SyntaxError
            raise ScriptRejected(f"script rejected by the sandbox: {err}", reason="script_syntax") from None
        with _compiled_lock:
            _compiled[key] = code
    return code


class _Deadline:
    """Raise ScriptTimeout in this thread at the first Python line run after ``seconds``.

    Relies on :func:`_precheck`: Python unsets a trace function that raised, so the exception
    must not be catchable by the script.
    """

    def __init__(self, seconds):
        self.seconds = seconds

    def __enter__(self):
        self.previous = sys.gettrace()
        deadline = time.monotonic() + self.seconds
        limit = self.seconds

        def trace(frame, event, arg):
            if time.monotonic() > deadline:
                raise ScriptTimeout(f"script stopped after {limit:g} s (time limit)")
            return trace

        sys.settrace(trace)

    def __exit__(self, *exc):
        sys.settrace(self.previous)


class RestrictedEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's task-data environment, compiled by RestrictedPython, time-limited."""

    def __init__(self, functions, timeout_seconds, services=None):
        super().__init__(_restricted_globals(functions))
        self.timeout_seconds = timeout_seconds
        self.services = services or {}

    def evaluate(self, expression, context, external_context=None):
        scope = dict(self.globals)
        scope.update(external_context or {})
        scope.update(context)
        code = compile_script(expression, "eval")
        with _Deadline(self.timeout_seconds):
            return eval(code, scope)

    def execute(self, script, context, external_context=None):
        self.check_for_overwrite(context, external_context or {})
        code = compile_script(script, "exec")
        context.update(self.globals)
        context.update(external_context or {})
        try:
            with _Deadline(self.timeout_seconds):
                exec(code, context)
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
            context.pop("_print", None)
        return True

    def call_service(self, context, operation_name, operation_params, **_):
        """Run a registered service operation; its result must be JSON-serialisable."""
        if operation_name not in self.services:
            raise LookupError(f"no service operation named {operation_name!r}")
        params = {name: spec["value"] for name, spec in operation_params.items()}
        with _Deadline(self.timeout_seconds):
            result = self.services[operation_name](**params)
        return json.dumps(result)  # SpiffWorkflow's ServiceTask json.loads() it back


class ScriptEngine(PythonScriptEngine):
    """Fixes 3.2.0's ``call_service`` (its error path raised NameError, hiding the cause).

    ``decisions`` (``decision_id -> DMNEngine | None``) gives business rule tasks the latest
    deployed decision (see engine.decisions); None keeps the one parsed with the process.
    """

    decisions = None

    def call_service(self, task, **kwargs):
        try:
            return self.environment.call_service(task.data, **kwargs)
        except Exception as err:
            name = kwargs.get("operation_name")
            raise WorkflowTaskException(f"service {name!r} failed: {err!r}", task=task, exception=err)


def make_script_engine(functions, services, timeout_seconds, decisions=None):
    """A fresh sandboxed engine exposing ``functions`` to scripts and ``services`` to service tasks."""
    engine = ScriptEngine(RestrictedEnvironment(functions, timeout_seconds, services))
    engine.decisions = decisions
    return engine
