"""Size guards: what one operation in a BPMN script may build (DESIGN invariant 8).

The sandbox's time limit (``engine.scripting``) stops Python loops, but it runs between
lines: a single C-level operation (``10 ** (3 * 10 ** 7)``, ``"x" * 3 * 10 ** 9``) holds the
interpreter, the GIL included, until it returns. So every operation that can build a big
value from small inputs is routed through a check that estimates the result's size from its
inputs and refuses it BEFORE computing it, with :class:`ScriptLimitExceeded`:

- the operators ``+ - * ** << %`` (also ``+=``, ``*=`` ...): strings, bytes and lists by
  length, integers by bits (``a ** b`` ≈ ``b · log2 a`` bits); ``str % args`` by its widths;
- f-strings: widths and precisions in the format spec, and the size of what is rendered;
- the string methods that pad or multiply (``ljust``, ``rjust``, ``center``, ``zfill``,
  ``expandtabs``, ``replace``, ``join``, ``translate``) and ``int.to_bytes``;
- the builtins ``pow``, ``round`` (a negative ``ndigits`` is a power of ten), ``repr`` and
  ``str`` (what they would render; still ``str`` for ``isinstance`` and its methods), ``sum``
  (numbers only: summing lists is quadratic), and ``math`` (``factorial``, ``comb``,
  ``perm``, ``prod``, ``lcm`` are checked; the float functions are harmless).

Contract: a value a script builds in one operation is at most ``max_value_bytes`` (strings and
bytes by length, lists at 8 bytes a slot) and an integer at most :data:`MAX_INT_BITS` bits.
This is only complete over the builtins the sandbox exposes: anything added to
``engine.scripting``'s builtins, or a registry function that builds values from script
input, must keep to it. ``random`` and ``string`` are not exposed for that reason
(``random.getrandbits(10**10)``, ``string.Formatter``).

The engine's and the registry's functions are handed arguments of at most ``max_value_bytes``
unfolded (:meth:`SizeGuards.checked_functions`): they are trusted code that renders or
compares what scripts pass (``str(day)``); what they build from it is theirs to keep small.

Not guarded here, and bounded otherwise: Python-level loops (the time limit, and the memory
ceiling in ``engine.scripting``); copies and splits (``list(x)``, ``s.split()``, slices) are
at most a small multiple of their input, which is itself bounded; comparing and hashing
(``==``, ``in``, ``min``, dict keys, ``hash``), which C does recursively over every shared
part each time it occurs, are bounded by ``engine.compare_guards`` with :func:`approx_size`:
a comparison or hash a script causes is over values of at most 1,000,000 bytes unfolded.
The operators ``| & ^`` (and ``-`` on a dict's view) are routed here and handed to it.
"""
import builtins
import math
import re
import types

from engine.errors import ScriptLimitExceeded

# About 4,200 decimal digits: far beyond any business figure, cheap to compute with, and
# below the 4,300 digits over which Python refuses to print an int (or write it as JSON: an
# instance holding one could not be saved).
MAX_INT_BITS = 14_000
_SLOT = 8  # bytes per list or tuple slot
# pow(a, b, m) squares and reduces modulo m once per bit of b, each step quadratic in m's
# 30-bit digits: exponent bits × (modulus digits)² stays under this (a fraction of a second;
# 2048-bit modular arithmetic passes).
_MODPOW_BUDGET = 5 * 10 ** 7


def approx_size(value, budget):
    """The approximate size of ``value`` in bytes, as JSON or repr would write it; returns
    early, with some count over ``budget``, as soon as the size is known to pass it (``inf``
    for a number over :data:`MAX_INT_BITS`, which JSON cannot write).

    A shared object counts each time it occurs, as JSON and repr write it each time
    (``l = [l, l]`` thirty times is 2**30 elements). Plain data (a tree) is walked once; data
    that shares a container is measured by :func:`_shared_size`, linear in its distinct objects.
    """
    total, stack, seen = 0, [value], set()
    while stack:  # the common types first, inline: this runs after every script
        item = stack.pop()
        kind = type(item)
        if kind is str:
            total += (len(item) if item.isascii() else 3 * len(item)) + 2
        elif kind is int:
            total += _int_size(item)
        elif kind is float or kind is bool or item is None:
            total += 8
        elif kind is dict or kind is list:
            if id(item) in seen:
                return _shared_size(value, budget)
            seen.add(id(item))
            if kind is dict:
                total += 2 + 2 * len(item)
                if total <= budget:
                    stack.extend(item)
                    stack.extend(item.values())
            else:
                total += 2 + len(item)
                if total <= budget:
                    stack.extend(item)
        else:
            children = _children(item)
            if children is None:
                total += _scalar_size(item)
            else:
                if id(item) in seen:
                    return _shared_size(value, budget)
                seen.add(id(item))
                total += 2 + (2 if type(item) is dict else 1) * len(children)
                if total <= budget:
                    stack.extend(children)
        if total > budget:
            return total
    return total


def changed_data_size(data, before, budget):
    """:func:`approx_size` of the dict ``data`` that was ``before`` (a shallow copy) until a
    script ran: an unchanged string or number is counted without walking anything, so only
    what the script assigned and the containers it could have changed in place are walked."""
    total, walk = 2, {}
    for key, value in data.items():
        kind = type(value)
        if (kind is str or kind in _PLAIN_NUMBERS) and before.get(key, _MISSING) is value:
            total += len(key) + 4 + (_scalar_size(value) if kind is not float else 8)
        else:
            walk[key] = value
    return total + approx_size(walk, budget - total) if walk else total


_MISSING = object()


def _shared_size(value, budget):
    """:func:`approx_size` for data that shares containers (or is cyclic): container sizes
    are memoised; a cycle back to a container being measured counts nothing more."""
    sizes, open_ = {}, set()  # id -> size of a measured container; ids being measured
    stack = [value]
    while stack:
        item = stack[-1]
        key = id(item)
        if key in sizes:
            stack.pop()
            continue
        children = _children(item)
        own = 2 + (2 if type(item) is dict else 1) * len(children)
        if own > budget:
            return own
        if key not in open_:
            open_.add(key)
            stack.extend(child for child in children if _children(child) is not None
                         and id(child) not in sizes and id(child) not in open_)
            continue
        total = own
        for child in children:
            total += sizes.get(id(child), 0) if _children(child) is not None else _scalar_size(child)
            if total > budget:
                return total
        sizes[key] = total
        open_.discard(key)
        stack.pop()
    return sizes[id(value)]


def _children(value):
    kind = type(value)
    if kind is dict or (kind not in _SCALARS and isinstance(value, dict)):
        return [*value.keys(), *value.values()]
    if kind in _SEQUENCES or (kind not in _SCALARS and isinstance(value, (list, tuple, set, frozenset))):
        return value
    if kind in _DICT_VIEWS:  # compared and hashed like sets (engine.compare_guards)
        return list(value)
    if kind is slice:  # compared as the tuple (start, stop, step)
        return (value.start, value.stop, value.step)
    return None


_SCALARS = frozenset({str, int, float, bool, type(None), bytes})
_PLAIN_NUMBERS = frozenset({int, float, bool, type(None)})
_SEQUENCES = frozenset({list, tuple, set, frozenset})
_DICT_VIEWS = frozenset({type({}.keys()), type({}.values()), type({}.items())})


def _scalar_size(value):
    if type(value) is str or isinstance(value, str):
        return len(value) * (1 if value.isascii() else 3) + 2
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _int_size(value)
    return 8


def _int_size(value):
    """Its decimal digits; a number over MAX_INT_BITS (sum() can pass it by a few bits) cannot
    be written as JSON, so it counts as too large whatever the budget."""
    bits = value.bit_length()
    return bits // 3 + 1 if bits <= MAX_INT_BITS else math.inf


def _sequence_bytes(value):
    """Bytes of a str, bytes, list or tuple (None for other types)."""
    if isinstance(value, (str, bytes, bytearray)):
        return len(value)
    if isinstance(value, (list, tuple)):
        return len(value) * _SLOT
    return None


def _is_int(value):
    return isinstance(value, int)  # bool too: True * "x" is "x"


def _int_or_zero(value):
    return value if _is_int(value) else 0


# str % args: one conversion, its width and precision ('*' takes them from args)
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


class SizeGuards:
    """The checked operations, bound to one limit; their methods become the sandbox's globals."""

    def __init__(self, max_value_bytes):
        self.max_bytes = int(max_value_bytes)

    # -- the checks ---------------------------------------------------------------------------
    def check_bytes(self, what, size):
        if size > self.max_bytes:
            raise ScriptLimitExceeded(
                f"{what} would build about {size:,.0f} bytes, over the limit of {self.max_bytes:,} "
                "bytes for one value ([scripts] max_data_bytes)")

    @staticmethod
    def check_bits(what, bits):
        if bits > MAX_INT_BITS:
            raise ScriptLimitExceeded(f"{what} would build a number of about {bits:,.0f} bits, over "
                                      f"the limit of {MAX_INT_BITS:,} bits")

    def check_rendered(self, what, value):
        """What ``repr``/``str``/a format would write of ``value`` fits the limit."""
        kind = type(value)
        if kind is str or kind is bytes:
            self.check_bytes(what, len(value))
        elif kind not in _PLAIN_NUMBERS:
            self.check_bytes(what, approx_size(value, self.max_bytes))

    def _check_width(self, what, spec):
        for digits in _DIGITS.findall(spec):
            self.check_bytes(what, int(digits) if len(digits) <= 18 else 10 ** 18)

    # -- operators ---------------------------------------------------------------------------
    def binop(self, op, left, right):
        """``left op right`` for the operators that can build big values (see :data:`_BINOPS`)."""
        return _BINOPS[op](self, left, right)

    def add(self, left, right):
        a, b = _sequence_bytes(left), _sequence_bytes(right)
        if a is not None and b is not None:
            self.check_bytes("'+'", a + b)
        elif _is_int(left) and _is_int(right):
            self.check_bits("'+'", max(left.bit_length(), right.bit_length()) + 1)
        return left + right

    def sub(self, left, right):
        if _is_int(left) and _is_int(right):
            self.check_bits("'-'", max(left.bit_length(), right.bit_length()) + 1)
        elif type(left) in _DICT_VIEWS or type(right) in _DICT_VIEWS:
            return _set_operator("-")(self, left, right)
        return left - right

    def mul(self, left, right):
        if _is_int(left) and _is_int(right):
            self.check_bits("'*'", left.bit_length() + right.bit_length())
        else:
            for seq, times in ((left, right), (right, left)):
                size = _sequence_bytes(seq)
                if size is not None and _is_int(times):
                    self.check_bytes("'*'", size * max(times, 0))
        return left * right

    def pow(self, base, exp, mod=None):
        """``pow`` and ``**`` (with Python's own keyword names)."""
        exponent, modulus = exp, mod
        if _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1:
            if modulus is None:
                self.check_bits("'**'", exponent * math.log2(abs(base)))
            elif _is_int(modulus):
                self.check_bits("pow() modulus", modulus.bit_length())
                if exponent.bit_length() * (modulus.bit_length() // 30 + 1) ** 2 > _MODPOW_BUDGET:
                    raise ScriptLimitExceeded("pow() with a modulus: exponent and modulus are too large")
        return builtins.pow(base, exponent) if modulus is None else builtins.pow(base, exponent, modulus)

    def lshift(self, left, right):
        if _is_int(left) and _is_int(right) and left and right > 0:
            self.check_bits("'<<'", left.bit_length() + right)
        return left << right

    def mod(self, left, right):
        if isinstance(left, (str, bytes)):
            self._check_percent(left, right)
        return left % right

    def _check_percent(self, template, args):
        values = list(args.values()) if isinstance(args, dict) else list(args) if isinstance(args, tuple) else [args]
        stars = max((abs(v) for v in values if _is_int(v)), default=0)
        size = len(template)
        text = template if isinstance(template, str) else template.decode("latin-1")
        for match in _PERCENT.finditer(text):
            for part in match.groups():
                if part == "*":
                    size += stars
                elif part:
                    size += int(part) if len(part) <= 18 else 10 ** 18
        for value in values:
            size += approx_size(value, self.max_bytes)
        self.check_bytes("'%' formatting", size)

    def inplace(self, op, left, right):
        """``left op= right`` (RestrictedPython's ``_inplacevar_``)."""
        return _INPLACE[op](self, left, right)

    # -- f-strings -----------------------------------------------------------------------------
    def format_value(self, value, conversion, spec):
        """One ``{value!conversion:spec}`` of an f-string, checked, as a str."""
        self.check_rendered("f-string", value)
        self._check_width("f-string format", spec)
        if conversion == ord("r"):
            value = repr(value)
        elif conversion == ord("s"):
            value = str(value)
        elif conversion == ord("a"):
            value = ascii(value)
        return format(value, spec)

    # -- attributes: methods that pad or multiply ------------------------------------------------
    def guard_method(self, obj, name, method):
        """``method`` (``obj.name``), checked if it is one that can build big values; also
        unbound, from the type (``str.ljust("x", n)``)."""
        unbound = obj in _GUARDED_TYPES or isinstance(obj, CheckedStrType)
        if not (unbound or isinstance(obj, _GUARDED_TYPES)) or name not in _METHOD_SIZES:
            return method
        estimate = _METHOD_SIZES[name]

        def checked(*args, **kwargs):
            if name == "join" and len(args) > unbound:  # the estimate reads the iterable: once
                args = (*args[:unbound], list(args[unbound]), *args[unbound + 1:])
            size = estimate(*args, **kwargs) if unbound else estimate(obj, *args, **kwargs)
            self.check_bytes(f"{name}()", size)
            return method(*args, **kwargs)
        return checked

    # -- the engine's and the registry's functions -------------------------------------------
    def checked_functions(self, functions):
        """``functions`` (name -> callable) as scripts call them: each call's arguments measured
        first. Trusted code does C work on what it is handed (``str(day)``, comparisons), so a
        function is handed at most ``max_value_bytes`` unfolded, like a task's data: a nested
        list that shares its parts thirty times is refused, not rendered."""
        return {name: self._checked_function(name, fn) for name, fn in functions.items()}

    def _checked_function(self, name, fn):
        def call(*args, **kwargs):
            if any(type(arg) not in _SCALARS for arg in args) or any(
                    type(arg) not in _SCALARS for arg in kwargs.values()):
                size = approx_size([args, kwargs], self.max_bytes)
                if size > self.max_bytes:
                    raise ScriptLimitExceeded(
                        f"{name}() was handed over {self.max_bytes:,} bytes unfolded (a shared part "
                        "counts each time it occurs), the limit for one value ([scripts] max_data_bytes)")
            return fn(*args, **kwargs)
        return call

    # -- builtins ----------------------------------------------------------------------------
    def builtins(self):
        """The checked builtins and the ``math`` namespace, by name."""
        return {"pow": self.pow, "round": self.round, "repr": self.repr, "sum": self.sum,
                "str": checked_str(self.max_bytes), "math": self.math()}

    def round(self, number, ndigits=None):
        if _is_int(ndigits) and ndigits < 0 and _is_int(number):
            self.check_bits("round()", -ndigits * math.log2(10))
        return builtins.round(number) if ndigits is None else builtins.round(number, ndigits)

    def repr(self, value):
        self.check_rendered("repr()", value)
        return builtins.repr(value)

    @staticmethod
    def sum(iterable, start=0):
        if not isinstance(start, (int, float, complex)):
            raise ScriptLimitExceeded("sum() adds numbers only in scripts; use ''.join() or a loop")
        return builtins.sum(iterable, start)

    def math(self):
        names = {name: getattr(math, name) for name in dir(math) if not name.startswith("_")}
        names.update(factorial=self._factorial, comb=self._comb, perm=self._perm,
                     prod=self._prod, lcm=self._lcm)
        return types.SimpleNamespace(**names)

    def _factorial(self, n):
        if _is_int(n) and n > 2:
            self.check_bits("math.factorial()", n * math.log2(n))
        return math.factorial(n)

    def _comb(self, n, k):
        if _is_int(n) and n > 2:
            self.check_bits("math.comb()", n)
        return math.comb(n, k)

    def _perm(self, n, k=None):
        if _is_int(n) and n > 2:
            self.check_bits("math.perm()", (n if k is None else _int_or_zero(k)) * math.log2(n))
        return math.perm(n, k)

    def _prod(self, iterable, start=1):
        result = start
        for item in iterable:
            result = self.mul(result, item)
        return result

    def _lcm(self, *numbers):
        self.check_bits("math.lcm()", builtins.sum(n.bit_length() for n in numbers if _is_int(n)))
        return math.lcm(*numbers)


class CheckedStrType(type):
    """The type of the scripts' ``str``: calling it first checks what it would render (a
    nested structure's text can be exponential in its size); for everything else it is
    ``str`` (``isinstance(x, str)``, ``str.upper``)."""

    def __call__(cls, *args, **kwargs):
        if args:
            SizeGuards(cls.max_bytes).check_rendered("str()", args[0])
        return str(*args, **kwargs)

    def __instancecheck__(cls, obj):
        return isinstance(obj, str)

    def __subclasscheck__(cls, subclass):
        return subclass is cls or issubclass(subclass, str)

    def __getattr__(cls, name):
        return getattr(str, name)


_checked_str_types = {}


def checked_str(max_bytes):
    """The scripts' ``str`` for a limit (one class per limit, made once)."""
    if max_bytes not in _checked_str_types:
        _checked_str_types[max_bytes] = CheckedStrType("str", (), {"max_bytes": max_bytes})
    return _checked_str_types[max_bytes]


def _pad(obj, width=0, *_):
    return max(_int_or_zero(width), len(obj))


def _expandtabs(obj, tabsize=8):
    return len(obj) + obj.count("\t" if isinstance(obj, str) else b"\t") * max(_int_or_zero(tabsize), 0)


def _replace(obj, old, new, count=-1):
    if not isinstance(old, type(obj)) or not isinstance(new, type(obj)):
        return len(obj)  # the method itself refuses the wrong types
    times = obj.count(old) if old else len(obj) + 1
    if _is_int(count) and count >= 0:
        times = min(times, count)
    return len(obj) + times * max(len(new) - len(old), 0)


def _join(obj, iterable):
    items = list(iterable)
    return (len(obj) * max(len(items) - 1, 0)
            + builtins.sum(len(item) for item in items if isinstance(item, (str, bytes))))


def _translate(obj, table, *_):
    longest = 1
    if isinstance(table, dict):
        longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
    return len(obj) * max(longest, 1)


def _to_bytes(obj, length=1, *_, **__):
    return _int_or_zero(length)


_GUARDED_TYPES = (str, bytes, int)
_METHOD_SIZES = {"ljust": _pad, "rjust": _pad, "center": _pad, "zfill": _pad,
                 "expandtabs": _expandtabs, "replace": _replace, "join": _join,
                 "translate": _translate, "to_bytes": _to_bytes}

def _set_operator(op):
    """``| & ^`` (and ``-`` on a dict's view): they hash, so the compare guards check them."""
    def apply(_, left, right):
        from engine import compare_guards  # it imports this module: resolved at the first call
        return compare_guards.set_operator(op, left, right)
    return apply


_BINOPS = {"+": SizeGuards.add, "-": SizeGuards.sub, "*": SizeGuards.mul, "**": SizeGuards.pow,
           "<<": SizeGuards.lshift, "%": SizeGuards.mod,
           "|": _set_operator("|"), "&": _set_operator("&"), "^": _set_operator("^")}
_INPLACE = {
    "+=": SizeGuards.add, "*=": SizeGuards.mul, "**=": SizeGuards.pow,
    "<<=": SizeGuards.lshift, "%=": SizeGuards.mod,
    "-=": SizeGuards.sub, "/=": lambda _, a, b: a / b, "//=": lambda _, a, b: a // b,
    ">>=": lambda _, a, b: a >> b, "&=": _set_operator("&="), "|=": _set_operator("|="),
    "^=": _set_operator("^="),
}
