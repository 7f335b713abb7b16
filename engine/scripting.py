"""The restricted script engine (DESIGN invariant 8): BPMN scripts are not trusted code.

Every script, condition, timer expression, task property expression (``dueDate``,
``candidateRole`` ...) and DMN cell runs here, compiled with RestrictedPython's AST guards: no
imports, no dunder attribute access, no ``open``, only the builtins below and the functions
the registry exposes. Three bounds keep one hostile or careless script from stalling or
exhausting the server for everybody else:

1. **Size guards** (``engine.script_guards``): the compiler routes ``+ - * ** << %``,
   f-strings, the padding and joining string methods and the arithmetic builtins through
   checks that refuse, BEFORE computing, a value over ``[scripts] max_data_bytes`` or an
   integer over 14,000 bits (4,200 digits). This is what stops single C-level operations
   (``10 ** (3 * 10 ** 7)``, ``"x" * 3 * 10 ** 9``), which the time limit cannot interrupt.
   **Compare and hash guards** (``engine.compare_guards``) do the same for what C compares
   or hashes recursively: comparisons become ``_compare_`` (``_compared_`` per operand in a
   chain), dict keys and set elements ``_hashed_``, subscripts check their key, and the
   builtins and methods that compare or hash (``min``, ``max``, ``hash``, ``set``, ``dict``,
   ``list.sort``, ``dict.get`` ...) are checked: a comparison or hash a script causes is over
   values of at most 1,000,000 bytes unfolded (a shared part counted each time it occurs,
   ~5 ms of C at most), so ``a == b`` of thirty doublings ``a = [a, a]`` is refused, not run.
   The engine's and the registry's functions are handed at most ``max_data_bytes`` unfolded.
2. **Time and memory while Python runs**: a trace function raises :class:`ScriptTimeout` at
   the first line executed past ``[scripts] timeout_seconds``, and every 2 ms compares the
   process's resident memory with what it was at its first check, raising
   :class:`ScriptLimitExceeded` past ``[scripts] max_memory_bytes`` (a loop appending
   megabyte strings). The ceiling is per process, so another thread's allocations count
   too; it is set high (256 MB) to make that a non-issue in practice.
3. **Instance data**: after a script, its task's data is measured (stopping at the limit);
   over ``[scripts] max_data_bytes`` the script fails and its changes are undone, so nothing
   huge is stored or read back. Completions, start variables and message payloads are
   checked against the same limit (``check_data_size``) and refused with ``data_too_large``.

Trade-off, chosen by measurement (docs/ARCHITECTURE.md, "Scripts are not trusted code"):
guards in process cost a function call per guarded operator and a walk of the task's data
after each script (tens of microseconds), where a separate process with ``setrlimit`` costs
a pickled round trip per run (~105–150 µs more; a process per run ~10 ms), the engine
evaluates dozens of expressions per command, and scripts call engine functions (``emit``,
the calendar, registry functions) that live in this process. The price is completeness: the guards only cover the
builtins exposed here, so every builtin or registry function added must keep to the
contracts of ``engine.script_guards`` and ``engine.compare_guards`` (``random``, ``string``,
``reorder`` and ``sorted`` are not exposed). Known residue, stated in
``engine.compare_guards``: comparisons trusted code makes on script values (bounded by
``max_data_bytes`` only).

SpiffWorkflow's deserializer gives back its default, unsandboxed engine: the unit of work
attaches :func:`make_script_engine` after every load.
"""
import ast
import json
import os
import sys
import threading
import time

from RestrictedPython import RestrictingNodeTransformer, compile_restricted, safe_globals, utility_builtins
from RestrictedPython.Eval import default_guarded_getiter
from RestrictedPython.Guards import (full_write_guard, guarded_iter_unpack_sequence,
                                     guarded_unpack_sequence, safer_getattr)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

from engine.errors import InvalidInput, ScriptLimitExceeded, ScriptRejected, ScriptTimeout
from engine import compare_guards, script_guards
from engine.script_guards import CheckedStrType, SizeGuards, approx_size, changed_data_size

_MAX_RANGE = 1_000_000
DEFAULT_MAX_DATA_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_MEMORY_BYTES = 256 * 1024 * 1024
# random (getrandbits, choices(k=)) and string (Formatter) could build anything; reorder
# (RestrictedPython's utility) hashes its arguments unmeasured and nothing needs it: not exposed.
_NOT_EXPOSED = ("random", "whrandom", "string", "reorder")


def _limited_range(*args):
    result = range(*args)
    if len(result) > _MAX_RANGE:
        raise ValueError(f"range() longer than {_MAX_RANGE} is not allowed in scripts")
    return result


def _restricted_globals(functions, guards):
    builtins = {**safe_globals["__builtins__"], **utility_builtins,
                "list": list, "any": any, "all": all, "enumerate": enumerate, "range": _limited_range,
                **guards.builtins(), **compare_guards.builtins_()}
    for name in _NOT_EXPOSED:
        builtins.pop(name, None)

    def getattr_(obj, name, *default):
        if isinstance(obj, CheckedStrType):
            obj = str  # the scripts' str: the rules (and guards) of str's own attributes
        elif isinstance(obj, compare_guards.ScriptType):
            obj = obj.real  # the scripts' dict, set, frozenset: likewise
        method = guards.guard_method(obj, name, safer_getattr(obj, name, *default))
        if name in compare_guards.METHOD_NAMES:  # a call (traced) only for the few that compare
            method = compare_guards.guard_method(obj, name, method)
        return method

    return {"__builtins__": builtins, "_getattr_": getattr_,
            "_getitem_": compare_guards.getitem, "_getiter_": default_guarded_getiter,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence, "_write_": full_write_guard,
            "_inplacevar_": guards.inplace, "_binop_": guards.binop,
            "_format_value_": guards.format_value, "_compare_": compare_guards.compare,
            "_compared_": compare_guards.compared, "_hashed_": compare_guards.hashed,
            "_hashed_all_": compare_guards.hashed_all,
            "_exception_types_": compare_guards.exception_types, **guards.checked_functions(functions)}


_GUARDED_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Mod: "%",
                ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^"}
_COMPARE_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
                ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}
_SCALAR_LITERALS = (str, bytes, int, float, bool, type(None))


class _SizeGuardingPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus: the operators and f-string fields that can build big
    values become calls of the size guards (``_binop_``, ``_format_value_``); comparisons,
    dict keys and set elements go through the compare guards (``_compare_``, ``_compared_``,
    ``_hashed_``, ``_hashed_all_``, ``_exception_types_``; engine.compare_guards)."""

    def visit_BinOp(self, node):
        node = self.node_contents_visit(node)
        symbol = _GUARDED_OPS.get(type(node.op))
        if symbol is None:
            return node
        return _located(ast.Call(func=ast.Name("_binop_", ast.Load()),
                                 args=[ast.Constant(symbol), node.left, node.right], keywords=[]), node)

    def visit_FormattedValue(self, node):
        node = self.node_contents_visit(node)
        call = ast.Call(func=ast.Name("_format_value_", ast.Load()),
                        args=[node.value, ast.Constant(node.conversion),
                              node.format_spec or ast.Constant("")], keywords=[])
        return _located(ast.FormattedValue(value=call, conversion=-1, format_spec=None), node)

    def visit_Compare(self, node):
        """One comparison becomes ``_compare_(op, left, right)``; in a chain (``a < b < c``) each
        guarded operand becomes ``_compared_(operand, op)``, which keeps the chain's evaluation
        order and short-circuit. A pair with a scalar literal, or ``is``, is left alone."""
        node = self.node_contents_visit(node)
        operands = [node.left, *node.comparators]
        guarded = {}  # operand index -> an operator it takes part in
        for i, op in enumerate(node.ops):
            if not isinstance(op, (ast.Is, ast.IsNot)) and not (
                    _is_scalar_literal(operands[i]) or _is_scalar_literal(operands[i + 1])):
                guarded.setdefault(i, _COMPARE_OPS[type(op)])
                guarded.setdefault(i + 1, _COMPARE_OPS[type(op)])
        if not guarded:
            return node
        if len(node.ops) == 1:
            return _located(_call("_compare_", ast.Constant(_COMPARE_OPS[type(node.ops[0])]),
                                  node.left, node.comparators[0]), node)
        wrapped = [_call("_compared_", operand, ast.Constant(guarded[i])) if i in guarded else operand
                   for i, operand in enumerate(operands)]
        return _located(ast.Compare(left=wrapped[0], ops=node.ops, comparators=wrapped[1:]), node)

    def visit_Dict(self, node):
        node = self.node_contents_visit(node)
        node.keys = [key if key is None or _is_scalar_literal(key) else _hashed(key, "a dict key")
                     for key in node.keys]  # None: a ** unpacking, whose hashes are stored
        return _located(node, node)

    def visit_Set(self, node):
        node = self.node_contents_visit(node)
        node.elts = [_hashed_element(element) for element in node.elts]
        return _located(node, node)

    def visit_SetComp(self, node):
        node = super().visit_SetComp(node)
        node.elt = _hashed_element(node.elt)
        return _located(node, node)

    def visit_DictComp(self, node):
        node = super().visit_DictComp(node)
        if not _is_scalar_literal(node.key):
            node.key = _hashed(node.key, "a dict key")
        return _located(node, node)

    def visit_Subscript(self, node):
        """``_write_(d)[k] = v`` and ``del _write_(d)[k]``: the key is hashed (loads go through
        ``_getitem_``, which checks it)."""
        node = super().visit_Subscript(node)
        slices = node.slice.elts if isinstance(getattr(node, "slice", None), ast.Tuple) else []
        if isinstance(node, ast.Subscript) and not (
                _is_scalar_literal(node.slice) or isinstance(node.slice, ast.Slice)
                or any(isinstance(element, ast.Slice) for element in slices)):
            node.slice = _hashed(node.slice, "a subscript 'x[key]'")
            _located(node, node)
        return node

    def visit_ExceptHandler(self, node):
        """The types an ``except`` names may be a nested tuple (``except t:``), which C walks
        recursively; checked only when an exception is being matched."""
        node = super().visit_ExceptHandler(node)
        if node.type is not None:
            node.type = _located(_call("_exception_types_", node.type), node)
        return node


def _call(name, *args):
    return ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=[])


def _hashed(value, what):
    return _call("_hashed_", value, ast.Constant(what))


def _hashed_element(element):
    if isinstance(element, ast.Starred):
        element.value = _call("_hashed_all_", element.value, ast.Constant("a set element"))
        return element
    return element if _is_scalar_literal(element) else _hashed(element, "a set element")


def _is_scalar_literal(node):
    """A literal str, bytes, number, bool or None (``-1`` too), or a tuple or list of them: C
    compares such a value with anything without recursing into the other side, and hashes it
    in time linear in the source."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, _SCALAR_LITERALS)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float))
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(isinstance(e, ast.Constant) and isinstance(e.value, _SCALAR_LITERALS) for e in node.elts)
    return False


def _located(new, old):
    for child in ast.walk(new):
        if not hasattr(child, "lineno"):
            ast.copy_location(child, old)
    return new


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
            code = compile_restricted(source, "<string>", mode, policy=_SizeGuardingPolicy)
        except SyntaxError as err:  # RestrictedPython reports policy violations as SyntaxError
            raise ScriptRejected(f"script rejected by the sandbox: {err}", reason="script_syntax") from None
        with _compiled_lock:
            _compiled[key] = code
    return code


def _resident_bytes():
    """The process's resident memory now (Linux), else its peak (other Unixes)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


_GUARD_FILES = frozenset({script_guards.__file__, compare_guards.__file__})
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_MEMORY_CHECK_SECONDS = 0.002  # reading /proc costs ~10 µs: not on every line


def lint_script(source, mode="exec"):
    """:func:`compile_script`, and refuse at deploy what is too large whatever the data: an
    operation on constants the size guards refuse (``10 ** 10 ** 8``, ``'x' * 10 ** 10``),
    reason ``too_large``. Run time refuses the same (and what only data makes too large)."""
    code = compile_script(source, mode)
    guards = SizeGuards(DEFAULT_MAX_DATA_BYTES)
    for node in ast.walk(ast.parse(source, mode=mode)):
        if isinstance(node, ast.BinOp) and type(node.op) in _GUARDED_OPS:
            try:
                _constant(node, guards)
            except _NotConstant:
                pass
            except ScriptLimitExceeded as err:
                raise ScriptRejected(f"script rejected by the sandbox: line {node.lineno}: {err}",
                                     reason="too_large") from None
            except (ArithmeticError, TypeError, ValueError):
                pass  # a run-time error of its own, not a size
    return code


class _NotConstant(Exception):
    pass


def _constant(node, guards):
    """The value of an expression of literals and guarded operators (else _NotConstant)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bytes)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_constant(node.operand, guards)
    if isinstance(node, (ast.List, ast.Tuple)):
        return _SEQUENCE_LITERALS[type(node)](_constant(element, guards) for element in node.elts)
    if isinstance(node, ast.BinOp) and type(node.op) in _GUARDED_OPS:
        return guards.binop(_GUARDED_OPS[type(node.op)], _constant(node.left, guards),
                            _constant(node.right, guards))
    raise _NotConstant


_SEQUENCE_LITERALS = {ast.List: list, ast.Tuple: tuple}


class _Bounds:
    """While Python runs in this thread: ScriptTimeout at the first line past ``seconds``,
    ScriptLimitExceeded once resident memory grew ``max_memory_bytes`` over its level at the
    first check (2 ms in: most scripts end before and never pay for reading it).

    Relies on :func:`_precheck`: Python unsets a trace function that raised, so the exception
    must not be catchable by the script.
    """

    def __init__(self, seconds, max_memory_bytes):
        self.seconds = seconds
        self.max_memory_bytes = max_memory_bytes

    def __enter__(self):
        self.previous = sys.gettrace()
        started = time.monotonic()
        deadline = started + self.seconds
        limit, max_memory = self.seconds, self.max_memory_bytes
        memory = {"next": started + _MEMORY_CHECK_SECONDS, "base": None}

        def trace(frame, event, arg):
            if frame.f_code.co_filename in _GUARD_FILES:
                return None  # the guards are bounded (and check the deadline where they loop)
            now = time.monotonic()
            if now > deadline:
                raise ScriptTimeout(f"script stopped after {limit:g} s (time limit)")
            if now >= memory["next"]:
                memory["next"] = now + _MEMORY_CHECK_SECONDS
                resident = _resident_bytes()
                if memory["base"] is None:
                    memory["base"] = resident
                elif resident - memory["base"] > max_memory:
                    raise ScriptLimitExceeded(
                        f"script stopped: it grew memory by {(resident - memory['base']) >> 20} MB, over "
                        f"the limit of {max_memory >> 20} MB ([scripts] max_memory_bytes)")
            return trace

        self.previous_deadline = compare_guards.set_deadline(deadline, limit)  # untraced: before
        sys.settrace(trace)

    def __exit__(self, *exc):
        sys.settrace(self.previous)
        compare_guards.restore_deadline(self.previous_deadline)


def check_data_size(data, max_bytes, what="the data"):
    """Refuse ``data`` (variables, a completion's form) over ``max_bytes``: InvalidInput
    ``data_too_large``; the size is measured with a budget, so the check itself is bounded."""
    size = approx_size(data, max_bytes)
    if size > max_bytes:
        raise InvalidInput(f"{what} is over {max_bytes:,} bytes ([scripts] max_data_bytes)",
                           reason="data_too_large")


class RestrictedEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's task-data environment, compiled by RestrictedPython, with the size
    guards, the time and memory bounds, and the data limit (see the module docstring)."""

    def __init__(self, functions, timeout_seconds, services=None,
                 max_data_bytes=DEFAULT_MAX_DATA_BYTES, max_memory_bytes=DEFAULT_MAX_MEMORY_BYTES):
        super().__init__(_restricted_globals(functions, SizeGuards(max_data_bytes)))
        self.timeout_seconds = timeout_seconds
        self.max_data_bytes = max_data_bytes
        self.max_memory_bytes = max_memory_bytes
        self.services = services or {}

    def _bounds(self):
        return _Bounds(self.timeout_seconds, self.max_memory_bytes)

    def evaluate(self, expression, context, external_context=None):
        scope = dict(self.globals)
        scope.update(external_context or {})
        scope.update(context)
        code = compile_script(expression, "eval")
        with self._bounds():
            return eval(code, scope)

    def execute(self, script, context, external_context=None):
        self.check_for_overwrite(context, external_context or {})
        code = compile_script(script, "exec")
        before = dict(context)  # shallow: undoes what the script assigned if the data is too large
        context.update(self.globals)
        context.update(external_context or {})
        try:
            with self._bounds():
                exec(code, context)
        finally:  # also when the script failed half-way: what it assigned may be too large
            self._remove_globals_and_functions_from_context(context, external_context)
            context.pop("_print", None)
            undone = self._undo_if_too_large(context, before)
        if undone:
            raise ScriptLimitExceeded(
                f"the script's data would be over {self.max_data_bytes:,} bytes ([scripts] "
                "max_data_bytes) or hold a number too large to store; its changes were not kept")
        return True

    def _undo_if_too_large(self, context, before):
        """Over the data limit: undo the script's assignments (and, if what it changed in
        place still leaves the data too large, drop the data); True if it did."""
        if changed_data_size(context, before, self.max_data_bytes) <= self.max_data_bytes:
            return False
        context.clear()
        context.update(before)
        if approx_size(context, self.max_data_bytes) > self.max_data_bytes:
            context.clear()
        return True

    def call_service(self, context, operation_name, operation_params, **_):
        """Run a registered service operation; its result must be JSON-serialisable."""
        if operation_name not in self.services:
            raise LookupError(f"no service operation named {operation_name!r}")
        params = {name: spec["value"] for name, spec in operation_params.items()}
        with self._bounds():
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


def make_script_engine(functions, services, timeout_seconds, decisions=None,
                       max_data_bytes=DEFAULT_MAX_DATA_BYTES, max_memory_bytes=DEFAULT_MAX_MEMORY_BYTES):
    """A fresh sandboxed engine exposing ``functions`` to scripts and ``services`` to service tasks."""
    engine = ScriptEngine(RestrictedEnvironment(functions, timeout_seconds, services,
                                                max_data_bytes, max_memory_bytes))
    engine.decisions = decisions
    return engine
