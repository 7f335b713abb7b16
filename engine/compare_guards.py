"""Compare and hash guards: what one comparison or hash in a BPMN script may cost (DESIGN
invariant 8; the size guards' companion, ``engine.script_guards``).

C compares and hashes containers recursively, and a part that is shared counts each time it
occurs: thirty doublings ``a = [a, a]`` make 31 lists whose ``a == b`` is 2**30 element
comparisons; a tuple's hash is not cached, so ``hash(t)`` (or ``{t}``, ``d[t]``) of
``t = (t, t)`` doubled thirty times is 2**30 hashes; ``[[[0] * 1000] * 1000] * 1000`` holds
10**9 elements in 3,000 slots. Each is one C call that holds the interpreter (the GIL
included): the time limit cannot stop it, and every other request of the server waits.

So every site where a script makes C compare or hash values measures what it hands over, with
:func:`engine.script_guards.approx_size` (linear in the *distinct* objects, stopping at the
budget), and refuses with :class:`ScriptLimitExceeded` BEFORE the operation when a value is
over :data:`MAX_COMPARED_BYTES`:

- the comparisons ``== != < <= > >=`` (both operands; a ``slice`` compares as its three
  bounds), and ``in``/``not in``: the left operand
  when the right one looks it up by hash (dict, set, frozenset, a dict's keys or items), the
  right one when it compares its elements with the left one (list, tuple, a dict's values);
  nothing for str, bytes and range. ``is`` compares identities: not guarded;
- hashing: dict and set displays and comprehensions (their keys and elements; ``{*it}``: all
  of ``it``), ``d[k]``, ``d[k] = v`` and ``del d[k]`` (the key), and the builtins ``hash``,
  ``set``, ``frozenset`` and ``dict`` (their input);
- the builtins ``min`` and ``max`` (their items, or the keys ``key=`` computed),
  ``isinstance`` and ``issubclass`` (a nested tuple of types is walked recursively), and the
  types an ``except`` clause names (same walk);
- the methods that compare or hash, bound or unbound (``list.count(l, x)``): list ``count
  index remove sort``; tuple ``count index``; dict ``get pop setdefault fromkeys update``; set
  and frozenset ``add discard remove update union intersection difference
  symmetric_difference issubset issuperset isdisjoint`` and the ``*_update`` forms; a dict's
  keys and items views ``isdisjoint``;
- the set operators ``| & ^ -`` when a dict's keys or items view is an operand (a view takes
  any iterable and hashes it; ``d |= pairs`` hashes the pairs' keys). Between sets they reuse
  the hashes the elements got when they were added, which were measured then.

Contract: **a comparison or hash a script causes is over values of at most
MAX_COMPARED_BYTES (1,000,000) bytes unfolded** (as JSON would write them, a shared part each
time it occurs). Measured on the shared 2-core test machine, C spends at most ~5 ns per such
byte (equal deep shared lists; tuples' hashes ~2 ns, flat lists ~2 ns): about 5 ms for one
comparison, about 10 ms for a sort (n log n comparisons over keys totalling the budget).
Measuring is Python (up to ~0.1 s at the budget, during which other threads run) and checks
the time limit first, as the guards' own frames are not traced.

Fast paths, because gateway conditions compare all the time: the compiler leaves a
comparison alone when one side is a literal number or string, or a tuple or list of them
(``answer == "yes"``, ``code in ("A", "B")``), and nothing is measured when either operand
is a str, bytes, int, float, bool or None (``code in codes``): C compares a scalar with a
container without recursing into it and hashes a scalar in linear time, so such a comparison
costs at most the length of the other operand (its top level), never its unfolded size.
Cost (shared 2-core machine, noisy): ~0.5 µs per evaluation (the deadline), ~1 µs per
guarded comparison of scalars, ~4 µs for ``d.get(k) == v``; a container is measured at
~0.1 µs per distinct element.

**Hash flooding.** Many *distinct* keys of one full hash (``i * (2**61 - 1)`` all hash to 0;
crafted tuples of small ints) make each insertion probe all of them, whatever the
perturbation: ``set(l)`` of 20,000 such ints was 2·10**8 probes (~3 s) in one call, though
every key is tiny. So every bulk operation on keys — building a set or dict from an iterable
(``set() frozenset() dict() dict.fromkeys() {*it}``, ``update`` and the set methods), copying
a set, comparing two sets or dicts, the set operators — first counts the keys' hashes
(:func:`check_keys`; nothing for up to 700 keys) and refuses when the keys of shared hashes, ``k`` of a hash with ``d`` distinct, would
cost more than :data:`MAX_KEY_PROBES` (the sum of ``k · (d - 1)``). A set grown
by a loop of ``add`` is bounded by the time limit instead (each ``add`` is one short call).

Not bounded here (stated, not hidden): comparisons and hashes made by trusted code on script
values, which are bounded by a larger budget only: the engine's and the registry's functions
are handed at most ``[scripts] max_data_bytes`` unfolded (``SizeGuards.checked_functions``),
and what SpiffWorkflow itself compares (DMN hit policies aggregate outputs) is task data,
capped by the same limit; at the default 4 MB, ~20 ms of C at the worst.
``sorted`` is not exposed to scripts (``list.sort`` is).
"""
import builtins
import operator
from collections import Counter
import threading
import time
import types

from engine.errors import ScriptLimitExceeded, ScriptTimeout
from engine.script_guards import approx_size

# ~5 ms of C at the worst measured 5 ns per unfolded byte (see the module docstring).
MAX_COMPARED_BYTES = 1_000_000
# Probes through keys of one equal hash that one bulk operation may make: ~20-80 ms of C on the
# shared test machine (about 80 ns a probe under load, comparisons of small ints included).
MAX_KEY_PROBES = 500_000
_FREE_KEYS = 700  # so few keys cost at most 700 · 699 probes more: not counted

_PLAIN = frozenset({str, bytes, int, float, bool, type(None)})
_KEYS_VIEW, _VALUES_VIEW, _ITEMS_VIEW = type({}.keys()), type({}.values()), type({}.items())
# `x in c` hashes x and compares it with the keys of equal hash only
_LOOKUP = (dict, set, frozenset, _KEYS_VIEW, _ITEMS_VIEW)
# `x in c` compares x with each element: at most c's own size
_SEQUENCES = (list, tuple, _VALUES_VIEW)
_SUBSTRING = (str, bytes, bytearray, range)  # linear, or a range's arithmetic
_STORED_HASHES = frozenset({set, frozenset})  # C reuses their elements' hashes
_HASHED = (set, frozenset, dict, _KEYS_VIEW, _ITEMS_VIEW)  # keys in hash chains (flooding)

_OPERATORS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
              ">": operator.gt, ">=": operator.ge,
              "in": lambda left, right: left in right, "not in": lambda left, right: left not in right}

# -- the time limit, for the guards' own loops ---------------------------------------------------
_clock = threading.local()


def set_deadline(deadline, seconds):
    """Start (or, with None, end) the time limit of this thread's script; returns the previous
    one for :func:`restore_deadline`. The sandbox's trace function skips the guards' frames (a
    check per line of theirs costs more than it bounds), so they check it themselves before
    each measurement: a guard that measures or calls back many times stops at the limit too."""
    previous = getattr(_clock, "limit", None)
    _clock.limit = None if deadline is None else (deadline, seconds)
    return previous


def restore_deadline(previous):
    _clock.limit = previous


def _check_time():
    limit = getattr(_clock, "limit", None)
    if limit is not None and time.monotonic() > limit[0]:
        raise ScriptTimeout(f"script stopped after {limit[1]:g} s (time limit)")


# -- the check -----------------------------------------------------------------------------------
def check_compared(what, value):
    """Refuse ``value`` if C comparing or hashing it could pass the budget (see the module);
    a big set or dict is also checked for keys of equal hash (:func:`check_keys`)."""
    if type(value) in _PLAIN:
        return
    _check_time()
    if approx_size(value, MAX_COMPARED_BYTES) > MAX_COMPARED_BYTES:  # it stops early: no total
        raise ScriptLimitExceeded(
            f"{what} would compare or hash a value of over {MAX_COMPARED_BYTES:,} bytes unfolded "
            "(a shared part counts each time it occurs), the limit for one operation")
    if isinstance(value, _HASHED) and len(value) > _FREE_KEYS:
        check_keys(what, value)


def check_keys(what, keys):
    """Refuse ``keys`` (to be hashed in one C call: a set or dict built, copied, compared or
    combined) if keys of equal hash would cost C more than :data:`MAX_KEY_PROBES` probes.

    A set or dict finds a key by its full hash: ``k`` keys of one hash, ``d`` of them
    distinct, cost about ``k · (d - 1)`` probes more than ``k`` plain ones (each walks the
    chain of the distinct ones), which no perturbation of the probe sequence avoids (hash
    flooding: ``i * (2**61 - 1)`` all hash to 0), summed over the hashes (many middling chains
    cost as much as one long one). Equal keys (duplicates) are cheap, so distinct values are
    counted per shared hash, biggest first, stopping as soon as the sum passes the budget.
    Counting the hashes is itself safe: the hash of a hash value is itself, so the counter's
    own keys never collide."""
    if len(keys) <= _FREE_KEYS:
        return
    _check_time()
    if isinstance(keys, _ITEMS_VIEW):
        keys = [key for key, _value in keys]  # found by key; a value need not be hashable
    counts = Counter(map(hash, keys))
    if sum(k * k for k in counts.values() if k > 1) <= MAX_KEY_PROBES:
        return  # even if every key were distinct
    shared = sorted(((k, h) for h, k in counts.items() if k > 1), reverse=True)
    groups = {h: [] for _k, h in shared}
    for key in keys:
        group = groups.get(hash(key))
        if group is not None:
            group.append(key)
    spent = 0
    for k, h in shared:
        _check_time()
        distinct = []
        for key in groups[h]:
            if not any(key == seen for seen in distinct):
                distinct.append(key)
                if spent + k * (len(distinct) - 1) > MAX_KEY_PROBES:
                    raise ScriptLimitExceeded(
                        f"{what} would hash keys of equal hash ({k:,} of one hash, over "
                        f"{len(distinct) - 1:,} of them distinct): more than {MAX_KEY_PROBES:,} "
                        "probes in one operation")
        spent += k * (len(distinct) - 1)


# -- comparisons (the compiler's hooks) --------------------------------------------------------
def compare(op, left, right):
    """``left op right``, one comparison (``_compare_``); the compiler gives chains to
    :func:`compared` instead, operand by operand, to keep their evaluation order.

    Nothing is measured when either operand is a str, bytes, number, bool or None: C compares
    such a value with a container without recursing into it, and hashes it in linear time."""
    if type(left) in _PLAIN or type(right) in _PLAIN:
        return _OPERATORS[op](left, right)
    what = f"'{op}'"
    if op == "in" or op == "not in":
        if isinstance(right, _LOOKUP):
            check_compared(what, left)       # hashed, then compared with keys of equal hash
        elif isinstance(right, _SEQUENCES):
            check_compared(what, right)      # each element compared with left: at most right's size
        else:
            _check_iterated(what, left, right)
    else:
        check_compared(what, left)
        check_compared(what, right)
    return _OPERATORS[op](left, right)


def _check_iterated(what, left, right):
    """``left in right`` for any other iterable (``left`` is a container): a generator's
    elements come one by one from Python (traced), each compared with ``left``; a C iterator
    (``enumerate``) would compare them all in one call, unmeasured."""
    if type(right) is types.GeneratorType:
        check_compared(what, left)
    elif hasattr(right, "__iter__") and not isinstance(right, _SUBSTRING):
        raise ScriptLimitExceeded(f"{what} over an {type(right).__name__!r} object compares in one "
                                  "unmeasured operation; make it a list first")


def compared(value, op):
    """One operand of a chained comparison (``_compared_``), measured whatever its neighbour:
    returned as it is, so the chain keeps Python's evaluation order and short-circuit."""
    check_compared(f"'{op}'", value)
    return value


def hashed(value, what):
    """A dict key or set element the compiler marked (``_hashed_``), returned as it is."""
    check_compared(what, value)
    return value


def hashed_all(iterable, what):
    """The iterable a display unpacks into a set (``{*it}``), as C may hash it whole."""
    return _bulk(what, iterable)


def getitem(obj, key):
    """``obj[key]`` (RestrictedPython's ``_getitem_``): a mapping hashes the key."""
    if type(key) not in _PLAIN and type(key) is not slice:
        check_compared("a subscript 'x[key]'", key)
    return obj[key]


def exception_types(types_):
    """The types an ``except`` clause names: C walks a nested tuple of them recursively."""
    if type(types_) is tuple:
        check_compared("an 'except' clause", types_)
    return types_


def _bulk(what, iterable):
    """``iterable`` as something C may hash whole: a set or frozenset as it is (its elements
    were measured when added, their hashes are stored); anything else as a list, measured whole
    (a generator is consumed once, as the operation would have)."""
    if type(iterable) in _STORED_HASHES:
        check_compared(what, iterable)  # copying one re-probes its keys: flooding checked
        return iterable
    items = list(iterable)  # a non-iterable raises the TypeError the operation would
    check_compared(what, items)
    check_keys(what, items)
    return items


def _pairs(what, source):
    """What ``dict(source)`` or ``d.update(source)`` hashes: a dict's keys keep their stored
    hashes; the keys of (key, value) pairs are measured."""
    if isinstance(source, dict):
        return source
    pairs = list(source)
    keys = [pair[0] for pair in pairs if type(pair) in (tuple, list) and len(pair) == 2]
    check_compared(what, keys)
    check_keys(what, keys)
    return pairs


def _keys(what, items, key):
    """``key(item)`` for each item, once and in order (as ``sort``, ``min`` and ``max`` call it),
    measured together; returns what to pass as ``key=`` so the real operation reuses them."""
    keys = []
    for item in items:
        _check_time()  # a key function of the guards (d.get) is not traced
        keys.append(key(item))
    check_compared(what, keys)
    following = iter(keys).__next__
    return lambda _item: following()


# -- builtins ------------------------------------------------------------------------------------
def _hash(value):
    check_compared("hash()", value)
    return builtins.hash(value)


def _extreme(pick):
    name = f"{pick.__name__}()"

    def checked(*args, **kwargs):
        if not args or set(kwargs) - {"key", "default"} or (len(args) > 1 and "default" in kwargs):
            return pick(*args, **kwargs)  # the builtin's own TypeError, before iterating
        items = list(args[0]) if len(args) == 1 else list(args)
        key = kwargs.get("key")
        if key is None:
            check_compared(name, items)
        else:
            kwargs["key"] = _keys(f"{name} keys", items, key)
        return pick(items, **kwargs) if len(args) == 1 else pick(*items, **kwargs)
    checked.__name__ = pick.__name__
    return checked


def _isinstance(obj, classinfo):
    if type(classinfo) is tuple and any(type(kind) is tuple for kind in classinfo):
        check_compared("isinstance()", classinfo)
    return builtins.isinstance(obj, classinfo)


def _issubclass(cls, classinfo):
    if type(classinfo) is tuple and any(type(kind) is tuple for kind in classinfo):
        check_compared("issubclass()", classinfo)
    return builtins.issubclass(cls, classinfo)


class ScriptType(type):
    """A builtin type as scripts see it: calling it checks what it would hash first; for
    ``isinstance``, ``issubclass`` and its attributes (``dict.fromkeys``, ``set.union``) it is
    the type itself (the sandbox's ``getattr`` reads them from ``real``)."""

    def __call__(cls, *args, **kwargs):
        return cls.construct(*args, **kwargs)

    def __instancecheck__(cls, obj):
        return isinstance(obj, cls.real)

    def __subclasscheck__(cls, subclass):
        return subclass is cls or issubclass(subclass, cls.real)

    def __getattr__(cls, name):
        return getattr(cls.real, name)


def _new_set(*args, **kwargs):
    if len(args) == 1 and not kwargs:
        args = (_bulk("set()", args[0]),)
    return set(*args, **kwargs)


def _new_frozenset(*args, **kwargs):
    if len(args) == 1 and not kwargs:
        args = (_bulk("frozenset()", args[0]),)
    return frozenset(*args, **kwargs)


def _new_dict(*args, **kwargs):
    if len(args) == 1:
        args = (_pairs("dict()", args[0]),)
    return dict(*args, **kwargs)


def _script_type(real, construct):
    return ScriptType(real.__name__, (), {"real": real, "construct": staticmethod(construct)})


def builtins_():
    """The checked builtins, by name (they replace the plain ones)."""
    return {"hash": _hash, "min": _extreme(min), "max": _extreme(max),
            "isinstance": _isinstance, "issubclass": _issubclass,
            "set": _SET, "frozenset": _FROZENSET, "dict": _DICT}


_SET = _script_type(set, _new_set)
_FROZENSET = _script_type(frozenset, _new_frozenset)
_DICT = _script_type(dict, _new_dict)


# -- methods -------------------------------------------------------------------------------------
def _measure_self(what, self, args, kwargs):
    check_compared(what, self)  # each element compared with the argument: at most self's size
    return args, kwargs


def _measure_key(what, self, args, kwargs):
    if args:
        check_compared(what, args[0])
    return args, kwargs


def _measure_iterables(what, self, args, kwargs):
    iterables = [arg if type(arg) in _STORED_HASHES else list(arg) for arg in args]
    check_compared(what, [it for it in iterables if type(it) is list])
    for keys in (self, *iterables):  # flooding: C probes self's chains with each key
        if isinstance(keys, _HASHED) or type(keys) is list:
            check_keys(what, keys)
    return iterables, kwargs


def _measure_fromkeys(what, self, args, kwargs):
    return (_bulk(what, args[0]), *args[1:]) if args else args, kwargs


def _measure_update(what, self, args, kwargs):
    return (_pairs(what, args[0]), *args[1:]) if args else args, kwargs


def _measure_sort(what, self, args, kwargs):
    key = kwargs.get("key")
    if args:
        return args, kwargs  # list.sort takes no positional argument: its own TypeError
    if key is None:
        check_compared(what, self)
    else:
        kwargs = {**kwargs, "key": _keys(f"{what} keys", self, key)}
    return args, kwargs


_SET_ITERABLES = ("update", "union", "intersection", "difference", "symmetric_difference",
                  "issubset", "issuperset", "isdisjoint", "intersection_update",
                  "difference_update", "symmetric_difference_update")
_FROZEN = ("union", "intersection", "difference", "symmetric_difference", "issubset",
           "issuperset", "isdisjoint")


def _method_table():
    """name -> {type: what its guard measures}."""
    table = {}
    for kind, names, measure in (
            (list, ("count", "index", "remove"), _measure_self), (list, ("sort",), _measure_sort),
            (tuple, ("count", "index"), _measure_self),
            (dict, ("get", "pop", "setdefault"), _measure_key), (dict, ("fromkeys",), _measure_fromkeys),
            (dict, ("update",), _measure_update),
            (set, ("add", "discard", "remove"), _measure_key), (set, _SET_ITERABLES, _measure_iterables),
            (set, ("copy",), _measure_self),
            (frozenset, _FROZEN, _measure_iterables),
            (_KEYS_VIEW, ("isdisjoint",), _measure_iterables),
            (_ITEMS_VIEW, ("isdisjoint",), _measure_iterables)):
        for name in names:
            table.setdefault(name, {})[kind] = measure
    return table


_METHODS = _method_table()
METHOD_NAMES = frozenset(_METHODS)
_BASES = (list, tuple, dict, set, frozenset, _KEYS_VIEW, _ITEMS_VIEW)


_NAMES = {_KEYS_VIEW: "dict.keys()", _ITEMS_VIEW: "dict.items()"}


def _base_of(cls):
    """The builtin container ``cls`` derives from (a script's ``class Row(dict)``), or None."""
    for base in _BASES:
        if issubclass(cls, base):
            return base
    return None


def guard_method(obj, name, method):
    """``method`` (``obj.name``), checked if it compares or hashes its arguments or elements;
    also unbound, read from the type (``list.count(l, x)``)."""
    by_type = _METHODS.get(name)
    if by_type is None:
        return method
    unbound = isinstance(obj, type)
    cls = obj if unbound else type(obj)
    base = cls if cls in _BASES else _base_of(cls)
    measure = by_type.get(base)
    if measure is None:
        return method
    unbound = unbound and name != "fromkeys"  # a classmethod: bound to the type either way
    what = f"{_NAMES.get(base, base.__name__)}.{name}()"
    if measure is _measure_key and not unbound:  # d.get(k) and the like: a frame less (traced)
        def checked_key(*args, **kwargs):
            if args and type(args[0]) not in _PLAIN:
                check_compared(what, args[0])
            return method(*args, **kwargs)
        return checked_key

    def checked(*args, **kwargs):
        if unbound:
            if not args:
                return method(*args, **kwargs)  # its own TypeError
            self, rest = args[0], args[1:]
            rest, kwargs = measure(what, self, rest, kwargs)
            return method(self, *rest, **kwargs)
        args, kwargs = measure(what, obj, args, kwargs)
        return method(*args, **kwargs)
    return checked


# -- operators on a dict's views ----------------------------------------------------------------
def set_operator(op, left, right):
    """``left op right`` for ``| & ^ -`` and ``left op= right`` for ``|= &= ^=`` (in place, as
    Python does): a dict's keys or items view hashes any iterable it is combined with, and its
    own elements again; ``d |= pairs`` hashes the pairs' keys."""
    if op == "|=" and isinstance(left, dict) and not isinstance(right, dict):
        right = _pairs("'|='", right)
    if isinstance(left, _VIEWS) or isinstance(right, _VIEWS):
        check_compared(f"'{op}'", left)
        check_compared(f"'{op}'", right)
    else:  # between sets: stored hashes, but crowded chains are probed again
        for operand in (left, right):
            if isinstance(operand, _HASHED):
                check_keys(f"'{op}'", operand)
    return _SET_OPERATORS[op](left, right)


_VIEWS = (_KEYS_VIEW, _ITEMS_VIEW)
_SET_OPERATORS = {"|": operator.or_, "&": operator.and_, "^": operator.xor, "-": operator.sub,
                  "|=": operator.ior, "&=": operator.iand, "^=": operator.ixor}
