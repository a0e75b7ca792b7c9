"""How big is a cached value?  Honest enough sizes for a byte budget.

`sys.getsizeof` reports one object's own bytes: a list's array of
pointers, a dict's hash table.  It does not follow those pointers, so a
list of a thousand strings "weighs" the same as a list of a thousand
small ints.  `deep_getsizeof` walks the value and adds up every object it
reaches, each once, which is what a cache bounded in bytes needs.

`memory_curve` measures what a cache really holds with `tracemalloc`,
the standard library's allocation tracer, as requests go by.
"""

import collections
import sys
import tracemalloc
import types

from ._checks import check_int

__all__ = ["MemoryPoint", "deep_getsizeof", "memory_curve", "record"]

# Shared by every value and owned by none: counting them would charge each
# cached value for the interpreter itself.
_SHARED = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
           types.MethodType, types.CodeType)
_ATOMS = (str, bytes, bytearray, int, float, complex, range)
_CONTAINERS = (list, tuple, set, frozenset, collections.deque)
_SINGLETONS = {id(None), id(True), id(False), id(Ellipsis), id(NotImplemented)}


def deep_getsizeof(value):
    """Return the bytes of `value` and of everything it references, each object once."""
    seen = set(_SINGLETONS)
    total = 0
    stack = [value]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _SHARED):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, _ATOMS):
            continue
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
            continue
        if isinstance(obj, _CONTAINERS):
            stack.extend(obj)
            continue
        # Other instances: their __dict__ and the values in their __slots__.
        attrs = getattr(obj, "__dict__", None)
        if attrs is not None:
            stack.append(attrs)
        stack.extend(_slot_values(obj))
    return total


def _slot_values(obj):
    """The values held in obj's __slots__, along the whole MRO, private (mangled) names included."""
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:  # __slots__ = "x" is one slot
            if slot in ("__dict__", "__weakref__"):
                continue
            # `__p` in class A is stored as `_A__p`; read it through A's own descriptor, so a
            # subclass's attribute of the same name cannot hide it.
            owner = cls.__name__.lstrip("_")
            name = f"_{owner}{slot}" if slot.startswith("__") and not slot.endswith("__") and owner else slot
            descriptor = cls.__dict__.get(name)
            if descriptor is None or not hasattr(descriptor, "__get__"):
                continue
            try:
                yield descriptor.__get__(obj, cls)
            except AttributeError:  # a slot never assigned
                continue


def record(i, *, tags=5):
    """A user-profile-like value: a dict with a few strings and a list, about 1 KB deep."""
    return {
        "id": i,
        "name": f"user-{i:07d}",
        "email": f"user{i}@example.com",
        "tags": [f"tag-{i % 97}-{t}" for t in range(tags)],
        "bio": f"bio of user {i} " * 8,
    }


MemoryPoint = collections.namedtuple("MemoryPoint", "requests bytes")
MemoryPoint.__doc__ = "Bytes tracemalloc saw allocated (and not freed) after so many requests."


def memory_curve(cache, n_requests, *, every=None, value=record):
    """Store `n_requests` new keys in `cache`; return MemoryPoints measured with tracemalloc.

    Every request brings a new key (think of a cache keyed by URL with a
    per-request query string), so an unbounded cache only ever grows.
    Only allocations made during the run count, so the points start at 0.
    """
    n_requests = check_int("n_requests", n_requests, 1)
    every = check_int("every", every if every is not None else max(n_requests // 10, 1), 1)
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        points = [MemoryPoint(0, 0)]
        for i in range(1, n_requests + 1):
            cache[i] = value(i)
            if i % every == 0:
                points.append(MemoryPoint(i, tracemalloc.get_traced_memory()[0] - base))
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return points
