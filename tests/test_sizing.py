"""Sizing values for a byte budget, and memory bounds that hold."""

import os
import sys
import tracemalloc

from cachelab import LRUCache
from cachelab.sizing import deep_getsizeof, memory_curve, record


def test_getsizeof_undercounts_nested_values():
    words = [f"word {i}" for i in range(100)]
    assert deep_getsizeof(words) == sys.getsizeof(words) + sum(sys.getsizeof(w) for w in words)
    value = {"a": words, "b": {"c": "x" * 1000}}
    assert deep_getsizeof(value) > sys.getsizeof(value) + 1000 + sys.getsizeof(words)


def test_shared_objects_count_once_and_cycles_end():
    s = "shared" * 100
    assert deep_getsizeof([s, s, s]) == sys.getsizeof([s, s, s]) + sys.getsizeof(s)
    loop = []
    loop.append(loop)
    assert deep_getsizeof(loop) == sys.getsizeof(loop)


def test_objects_with_dict_and_slots():
    class Plain:
        def __init__(self):
            self.payload = "p" * 500

    class Slotted:
        __slots__ = ("payload",)

        def __init__(self):
            self.payload = "p" * 500

    for obj in (Plain(), Slotted()):
        assert deep_getsizeof(obj) >= sys.getsizeof(obj) + sys.getsizeof(obj.payload)
    assert deep_getsizeof(len) == 0  # functions and classes belong to no value


def test_memory_curve_unbounded_grows_bounded_stays_flat():
    unbounded = memory_curve({}, 4000, every=1000)
    bounded = memory_curve(LRUCache(50_000, getsizeof=deep_getsizeof), 4000, every=1000)
    assert [p.requests for p in unbounded] == [0, 1000, 2000, 3000, 4000]
    assert unbounded[-1].bytes > 3 * unbounded[1].bytes
    # Full after ~40 records; from then on the real allocation stays near the budget.
    assert max(p.bytes for p in bounded) < 2 * 50_000
    assert bounded[-1].bytes < unbounded[1].bytes / 5


def _rss():
    """This process's resident memory in bytes, now (not the peak), or None off Linux."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def test_byte_budget_holds_under_a_million_inserts():
    """A byte-bounded LRU stays within its budget under 1M inserts, by its count and by the OS's."""
    budget = 20_000
    cache = LRUCache(budget, getsizeof=deep_getsizeof)
    before = _rss()
    for i in range(1_000_000):
        cache[i] = "v"
        if i % 100_000 == 0:
            assert cache.currsize <= budget
    assert cache.currsize <= budget
    assert len(cache) == budget // deep_getsizeof("v")  # one-character strings, 50 bytes each
    if before is not None:
        # A dict of a million such entries holds over 100 MB; the bounded cache, a few hundred KB.
        assert _rss() - before < 20_000_000


def test_tracemalloc_sees_the_byte_budget_hold():
    budget = 20_000
    cache = LRUCache(budget, getsizeof=deep_getsizeof)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(50_000):
            cache[i] = "v"
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # Keys, order links and the size ledger cost more than the 50-byte values: ~400 entries
    # take tens of KB, where 50,000 in a dict would take several MB.
    assert held < 200_000


def test_entry_bound_holds_under_a_million_inserts():
    cache = LRUCache(1000)
    for i in range(1_000_000):
        cache[i] = i
    assert len(cache) == 1000 and list(cache)[0] == 999_000


def test_record_is_about_a_kilobyte():
    assert 800 < deep_getsizeof(record(7)) < 1600


def test_a_single_string_slot_is_one_slot_not_its_letters():
    """`__slots__ = "payload"` names one slot; its value must be counted, not the name's letters."""
    from cachelab.sizing import deep_getsizeof

    class Box:
        __slots__ = "payload"

        def __init__(self, payload):
            self.payload = payload

    assert deep_getsizeof(Box("x" * 5000)) > 5000


def test_private_slots_are_followed_under_their_mangled_names_across_the_mro():
    """`__p` is stored as `_A__p`: an object holding 140 KB must not measure 40 bytes."""
    class A:
        __slots__ = ("__p",)

        def __init__(self, payload):
            self.__p = payload

    class B(A):
        __slots__ = ("__q", "r")

        def __init__(self, payload):
            super().__init__(payload)
            self.__q = b"y" * 70_000
            self.r = None

    class _C:
        __slots__ = "__p"

        def __init__(self):
            self.__p = "z" * 50_000

    payload = "x" * 140_000
    assert deep_getsizeof(A(payload)) > 140_000
    assert deep_getsizeof(B(payload)) > 210_000
    assert deep_getsizeof(_C()) > 50_000
    assert deep_getsizeof(A.__new__(A)) < 100  # a slot never assigned holds nothing
