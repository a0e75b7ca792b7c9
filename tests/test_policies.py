"""CLOCK, SIEVE, ARC, S3-FIFO, W-TinyLFU and OPT: the cache contract, eviction order, reference models."""

import itertools
import math
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from cachelab import ARCCache, ClockCache, LRUCache, S3FIFOCache, SieveCache, opt_hits
from cachelab.policies import POLICIES, CountMinSketch, WTinyLFUCache, new_cache, policy_class, policy_name
from cachelab.lab.simulation import replay
from cachelab.lab.workloads import make_trace

from cache_contract import CacheContract

TRACES = st.lists(st.integers(0, 9), max_size=120)
SIZES = st.integers(1, 6)


def fill(cache, keys):
    for key in keys:
        cache[key] = key
    return cache


class EntriesOnly:
    """ARC and S3-FIFO count entries: getsizeof is refused, naming the parameter."""

    def test_getsizeof(self):
        with pytest.raises(TypeError, match="getsizeof"):
            self.make(10, getsizeof=len)

    test_too_large_value_leaves_cache_untouched = test_getsizeof
    test_negative_size_names_getsizeof = test_getsizeof
    test_bad_sizes_are_refused_naming_getsizeof = test_getsizeof


# -- the contract, then each policy's own eviction order -----------------------

class TestClock(CacheContract):
    Cache = ClockCache

    def test_read_key_gets_a_second_chance(self):
        cache = fill(self.make(3), [1, 2, 3])
        cache[1]
        cache[4] = 4
        assert sorted(cache) == [1, 3, 4]
        # 1 lost its bit as the hand passed, and went round behind 3.
        assert cache.snapshot() == {"ring": [3, 1, 4],
                                    "referenced": {3: False, 1: False, 4: False}}

    def test_without_reads_it_is_fifo(self):
        cache = fill(self.make(2), [1, 2, 3])
        assert sorted(cache) == [2, 3]


class TestSieve(CacheContract):
    Cache = SieveCache

    def test_hand_skips_visited_and_stays_put(self):
        cache = fill(self.make(3), [1, 2, 3])
        cache[1]
        cache[4] = 4
        assert sorted(cache) == [1, 3, 4]
        # Unlike CLOCK, 1 keeps its place at the old end; the hand waits at 3.
        assert cache.snapshot() == {"queue": [1, 3, 4], "hand": 3, "visited": []}
        cache[5] = 5
        assert sorted(cache) == [1, 4, 5] and cache.snapshot()["hand"] == 4

    def test_hand_wraps_to_the_oldest(self):
        cache = fill(self.make(2), [1, 2])
        cache[1], cache[2]
        cache[3] = 3  # both visited: the hand clears both, wraps, evicts 1
        assert sorted(cache) == [2, 3]
        assert cache.snapshot() == {"queue": [2, 3], "hand": 2, "visited": []}

    def test_delete_under_the_hand_moves_it_on(self):
        cache = fill(self.make(3), [1, 2, 3])
        cache[1]
        cache[4] = 4
        del cache[3]
        assert cache.snapshot()["hand"] == 4


class TestARC(EntriesOnly, CacheContract):
    Cache = ARCCache

    def test_second_use_promotes_to_t2(self):
        cache = fill(self.make(2), [1, 2])
        cache[1]
        cache[3] = 3
        assert cache.snapshot() == {"T1": [3], "T2": [1], "B1": [2], "B2": [], "p": 0.0}

    def test_ghost_hit_in_b1_grows_p(self):
        cache = fill(self.make(2), [1, 2])
        cache[1]
        cache[3] = 3
        cache[2] = 2  # 2 was a ghost in B1: T1 was too small
        assert cache.snapshot() == {"T1": [3], "T2": [2], "B1": [], "B2": [1], "p": 1.0}
        assert cache.p == 1.0

    def test_ghost_hit_in_b2_shrinks_p(self):
        cache = fill(self.make(2), [1, 2])
        cache[1]
        cache[3] = 3
        cache[2] = 2
        cache[1] = 1  # 1 was a ghost in B2
        assert cache.p == 0.0 and cache.snapshot()["T2"] == [2, 1]

    def test_one_time_scan_leaves_t2_alone(self):
        cache = fill(self.make(4), [1, 2, 1, 2])
        fill(cache, range(10, 30))
        assert {1, 2} <= set(cache)


class TestS3FIFO(EntriesOnly, CacheContract):
    Cache = S3FIFOCache

    def test_small_queue_filters_one_hit_wonders(self):
        cache = fill(self.make(3), [1, 2, 3])  # 1 in small; small full before any eviction
        assert cache.snapshot()["small"] == [1] and cache.snapshot()["main"] == [2, 3]
        cache[1], cache[1]
        cache[4] = 4  # 1 read twice: promoted; then main is over its share
        assert cache.snapshot() == {"small": [4], "main": [3, 1], "ghost": [],
                                    "freq": {3: 0, 1: 0, 4: 0}}
        cache[5] = 5  # 4 was never read: out, remembered in the ghost
        assert cache.snapshot()["ghost"] == [4] and sorted(cache) == [1, 3, 5]

    def test_ghost_hit_goes_to_main(self):
        cache = fill(self.make(3), [1, 2, 3])
        cache[1], cache[1]
        fill(cache, [4, 5, 4])
        snap = cache.snapshot()
        assert snap["main"] == [3, 1, 4] and snap["small"] == [] and snap["ghost"] == [5]

    @pytest.mark.parametrize("kwargs, name", [({"small_ratio": 2}, "small_ratio"),
                                              ({"ghost_ratio": -0.1}, "ghost_ratio"),
                                              ({"move_to_main_threshold": 0},
                                               "move_to_main_threshold")])
    def test_bad_parameters_are_named(self, kwargs, name):
        with pytest.raises(ValueError, match=name):
            self.make(10, **kwargs)


# -- reference models: the textbook versions, written the slow, obvious way ----

def clock_model(trace, size):
    """CLOCK as drawn in textbooks: a fixed ring of slots and a hand that goes round."""
    slots, bits, hand, hits = [], [], 0, 0
    for key in trace:
        if key in slots:
            hits += 1
            bits[slots.index(key)] = 1
        elif len(slots) < size:
            slots.append(key)
            bits.append(0)
        else:
            while bits[hand]:
                bits[hand] = 0
                hand = (hand + 1) % size
            slots[hand], bits[hand] = key, 0
            hand = (hand + 1) % size
    return hits


def sieve_model(trace, size):
    """SIEVE as in the paper's pseudo-code: a list (oldest first) and a hand index."""
    queue, visited, hand, hits = [], set(), 0, 0
    for key in trace:
        if key in queue:
            hits += 1
            visited.add(key)
            continue
        if len(queue) == size:
            while True:
                if hand >= len(queue):
                    hand = 0
                if queue[hand] not in visited:
                    break
                visited.discard(queue[hand])
                hand += 1
            del queue[hand]  # the hand now points at the next newer key,
            if hand == len(queue):  # or, past the newest, back at the oldest
                hand = 0
        queue.append(key)
    return hits


def arc_model(trace, c):
    """ARC as in Megiddo and Modha's Figure 4, with lists (LRU first)."""
    t1, t2, b1, b2, p, hits = [], [], [], [], 0.0, 0

    def replace(in_b2):
        if t1 and (len(t1) > p or (in_b2 and len(t1) == p)) or not t2:
            b1.append(t1.pop(0))
        else:
            b2.append(t2.pop(0))

    for x in trace:
        if x in t1 or x in t2:  # case I
            hits += 1
            (t1 if x in t1 else t2).remove(x)
            t2.append(x)
        elif x in b1:  # case II
            p = min(p + max(len(b2) / len(b1), 1), c)
            b1.remove(x)
            if len(t1) + len(t2) == c:
                replace(False)
            t2.append(x)
        elif x in b2:  # case III
            p = max(p - max(len(b1) / len(b2), 1), 0)
            b2.remove(x)
            if len(t1) + len(t2) == c:
                replace(True)
            t2.append(x)
        else:  # case IV
            if len(t1) + len(t2) == c:
                if len(t1) + len(b1) == c:
                    if b1:
                        b1.pop(0)
                        replace(False)
                    else:
                        t1.pop(0)
                else:
                    if len(t1) + len(t2) + len(b1) + len(b2) >= 2 * c and b2:
                        b2.pop(0)
                    replace(False)
            t1.append(x)
    return hits


def s3fifo_model(trace, size, threshold=2):
    """S3-FIFO with lists, following libCacheSim's S3FIFO.c."""
    small_size = max(int(size * 0.1), 1)
    main_size, ghost_size = size - small_size, int(size * 0.9)
    small, main, ghost, freq = [], [], [], {}
    evicted, hits = False, 0
    for key in trace:
        if key in freq:
            hits += 1
            freq[key] = min(freq[key] + 1, 3)
            continue
        from_ghost = key in ghost
        if from_ghost:
            ghost.remove(key)
        while len(small) + len(main) >= size:
            evicted, victim = True, None
            while victim is None:
                if len(main) > main_size or not small:
                    while freq[main[0]]:
                        freq[main[0]] -= 1
                        main.append(main.pop(0))
                    victim = main.pop(0)
                elif freq[small[0]] >= threshold:
                    freq[small[0]] = 0
                    main.append(small.pop(0))
                else:
                    victim = small.pop(0)
                    if ghost_size and victim not in ghost:
                        del ghost[:max(0, len(ghost) - ghost_size + 1)]  # oldest ghosts out
                        ghost.append(victim)
            del freq[victim]
        if from_ghost or (not evicted and len(small) >= small_size):
            main.append(key)
        else:
            small.append(key)
        freq[key] = 0
    return hits


@pytest.mark.parametrize("cls, model", [(ClockCache, clock_model), (SieveCache, sieve_model),
                                        (ARCCache, arc_model)], ids=["CLOCK", "SIEVE", "ARC"])
@settings(max_examples=150, deadline=None)
@given(trace=TRACES, size=SIZES)
def test_matches_reference_model(cls, model, trace, size):
    assert replay(cls(size), trace).hits == model(trace, size)


@settings(max_examples=150, deadline=None)
@given(trace=st.lists(st.integers(0, 40), max_size=300), size=st.integers(1, 25))
def test_s3fifo_matches_reference_model(trace, size):
    assert replay(S3FIFOCache(size), trace).hits == s3fifo_model(trace, size)


# -- OPT ---------------------------------------------------------------------

def best_possible(trace, size):
    """Try every choice of victim: the true optimum, for tiny traces only."""
    best = 0

    def walk(i, cached, hits):
        nonlocal best
        if i == len(trace):
            best = max(best, hits)
            return
        key = trace[i]
        if key in cached:
            walk(i + 1, cached, hits + 1)
        elif len(cached) < size:
            walk(i + 1, cached | {key}, hits)
        else:
            for victim in cached:
                walk(i + 1, cached - {victim} | {key}, hits)

    walk(0, frozenset(), 0)
    return best


@settings(max_examples=80, deadline=None)
@given(trace=st.lists(st.integers(0, 4), max_size=10), size=st.integers(1, 3))
def test_opt_is_the_true_optimum(trace, size):
    assert opt_hits(trace, size) == best_possible(trace, size)


@settings(max_examples=60, deadline=None)
@given(trace=TRACES, size=SIZES)
def test_opt_beats_every_policy(trace, size):
    best = opt_hits(trace, size)
    for cls in (ClockCache, SieveCache, ARCCache, S3FIFOCache):
        assert replay(cls(size), trace).hits <= best


def test_opt_on_a_loop_keeps_what_it_can():
    # A loop over 4 keys in a cache of 3: LRU never hits, OPT hits 2 of every 3 repeats.
    trace = list(itertools.islice(itertools.cycle(range(4)), 40))
    assert opt_hits(trace, 3) > 20 and opt_hits(trace, 0) == 0


@pytest.mark.parametrize("maxsize", [-1, 2.5, True])
def test_opt_names_bad_maxsize(maxsize):
    with pytest.raises(ValueError, match="maxsize"):
        opt_hits([1, 2], maxsize)


# -- W-TinyLFU and its sketch ----------------------------------------------------

class TestWTinyLFU(EntriesOnly, CacheContract):
    Cache = WTinyLFUCache

    # maxsize 5: a window of 1 key, a main cache of 4 (probation 1, protected 3).
    def full(self):
        cache = fill(self.make(5), [1, 2, 3, 4, 5, 6])
        # The window held all five until the cache filled; then 1 went to probation,
        # 2-4 to protected (probation was full), and 5 met 1 at the door and lost.
        assert cache.snapshot()["window"] == [6] and 5 not in cache
        return cache

    def test_the_window_drains_into_main_then_candidates_meet_the_door(self):
        cache = self.full()
        assert {k: cache.snapshot()[k] for k in ("probation", "protected")} == {
            "probation": [1], "protected": [2, 3, 4]}

    def test_a_key_that_keeps_coming_back_is_admitted(self):
        cache = self.full()
        cache[7] = 7   # 6 (seen once) loses to 1 (seen twice)
        cache[6] = 6   # 7 loses; 6 has now been counted three times
        cache[8] = 8   # 6 beats 1 at the door: 1 is evicted, 6 enters probation
        snap = cache.snapshot()
        assert 1 not in cache and snap["probation"] == [6] and snap["window"] == [8]
        assert cache.frequency(6) > cache.frequency(7)

    def test_a_read_in_probation_promotes_and_demotes_protected_oldest(self):
        cache = self.full()
        cache[1]
        snap = cache.snapshot()
        assert snap["protected"] == [3, 4, 1] and snap["probation"] == [2]

    def test_a_scan_does_not_flush_the_popular_keys(self):
        """40 hot keys read between scans of 100 new keys each: LRU keeps none, W-TinyLFU all."""
        hot, scans = list(range(40)), iter(range(1000, 10**6))
        trace = [key for _ in range(20) for key in hot + [next(scans) for _ in range(100)]]
        for cache, kept in ((self.make(100), len(hot)), (LRUCache(100), 0)):
            for key in trace:
                if cache.get(key) is None:
                    cache[key] = key
            assert sum(key in cache for key in hot) == kept, type(cache).__name__

    def test_describe_notes_each_key_with_its_count(self):
        cache = self.full()
        rows = cache.describe()
        assert [row.label for row in rows] == ["window", "probation", "protected"]
        assert rows[1].notes[1] == str(cache.frequency(1)) == "2"


@given(st.lists(st.integers(0, 50), max_size=300), st.integers(1, 40), st.integers(1, 6))
def test_count_min_never_undercounts(keys, width, depth):
    sketch = CountMinSketch(width, depth)
    for key in keys:
        sketch.add(key)
    assert all(sketch.estimate(key) >= keys.count(key) for key in set(keys))
    if width >= 64 and depth >= 4:  # roomy enough to be exact for a few keys... most of the time
        assert sum(sketch.estimate(key) == keys.count(key) for key in set(keys)) >= len(set(keys)) // 2


def test_count_min_halves_and_clears():
    sketch = CountMinSketch(64)
    for _ in range(7):
        sketch.add("A")
    sketch.halve()
    assert sketch.estimate("A") == 3
    sketch.clear()
    assert sketch.estimate("A") == 0


@pytest.mark.parametrize("args, name", [((0,), "width"), ((8, 0), "depth"), ((8, 11), "depth")])
def test_count_min_names_bad_arguments(args, name):
    with pytest.raises((TypeError, ValueError), match=name):
        CountMinSketch(*args)


def test_string_keys_count_the_same_in_every_process():
    """str hashes change with PYTHONHASHSEED; the sketch's must not, or step tables would differ."""
    code = ("from cachelab.policies import WTinyLFUCache\n"
            "c = WTinyLFUCache(3)\n"
            "for k in 'A B C A D B E A F G A C'.split():\n"
            "    c.get(k) is None and c.__setitem__(k, k)\n"
            "print(c.snapshot())")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(runs) == 1

# -- the registry by name ---------------------------------------------------------

def test_policy_class_finds_every_policy_by_name_in_any_case():
    assert policy_class("sieve") is SieveCache and policy_class("S3-fifo") is S3FIFOCache
    assert policy_class("w-tinylfu") is WTinyLFUCache and policy_name("w-tinylfu") == "W-TinyLFU"
    assert list(POLICIES) == ["LRU", "LFU", "FIFO", "RR", "CLOCK", "SIEVE", "ARC", "S3-FIFO", "W-TinyLFU"]


@pytest.mark.parametrize("bad", ["MRU", "OPT", 3, None])
def test_policy_class_names_the_choices(bad):
    with pytest.raises(ValueError, match=r"policy must be one of LRU, LFU, .*S3-FIFO, W-TinyLFU, got"):
        policy_class(bad)


# -- every registered policy without a bound ------------------------------------

@pytest.mark.parametrize("policy", list(POLICIES))
def test_every_policy_takes_an_infinite_maxsize(policy):
    """maxsize=math.inf, as in cachetools: nothing is evicted for room, popitem() still evicts."""
    trace = make_trace("zipf", 600, 120, seed=1).tolist()
    distinct = len(set(trace))
    fast, stored = new_cache(policy, math.inf), new_cache(policy, math.inf)
    assert replay(fast, trace).misses == distinct == len(fast)
    fill(stored, trace)  # through cache[key] = value
    assert len(stored) == distinct and stored.maxsize == math.inf
    key, value = stored.popitem()
    assert key == value and key not in stored and len(stored) == distinct - 1


def test_opt_without_a_bound_misses_only_first_uses():
    trace = make_trace("zipf", 600, 120, seed=1)
    assert opt_hits(trace, math.inf) == len(trace) - len(set(trace.tolist())) == opt_hits(trace, 600)


@pytest.mark.parametrize("cls, model", [(ARCCache, arc_model), (S3FIFOCache, s3fifo_model)],
                         ids=["ARC", "S3-FIFO"])
def test_none_is_a_key_like_any_other(cls, model):
    """A victim None is not taken for 'no key' (ARC's ghost hits evict in _admit())."""
    numbers = make_trace("zipf", 600, 8, alpha=0.5, seed=3).tolist()
    trace = [key or None for key in numbers]  # key 0 renamed None: the same hits
    assert None in trace
    for size in (2, 3, 5):
        quick, stored = cls(size), cls(size)
        assert replay(quick, trace).hits == replay(stored, trace, hooks=False).hits == model(numbers, size)
        assert quick.describe() == stored.describe()
