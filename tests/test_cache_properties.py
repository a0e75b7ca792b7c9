"""Property tests: each cache against a tiny reference model, and against cachetools."""

import threading

import cachetools
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cachelab import FakeClock, FIFOCache, LFUCache, LRUCache, RRCache, TTLCache, cached

KEYS = st.integers(0, 7)
MAXSIZE = 3
TTL = 5


class Model:
    """The obvious, slow version of a policy: a dict plus the order it evicts in."""

    def __init__(self, policy, clock):
        self.policy, self.clock = policy, clock
        self.values, self.rank = {}, {}  # rank: what the policy sorts victims by
        self.expires = {}
        self.ttl = TTL
        self.latest = clock()  # TTL: the cache's time is the latest the clock has said
        self.hits = self.misses = 0
        self.tick = 0

    def _now(self):
        self.latest = max(self.latest, self.clock())
        return self.latest

    def _alive(self):
        now = self._now()
        for key in [k for k, when in self.expires.items() if now >= when]:
            self._drop(key)

    def _drop(self, key):
        del self.values[key], self.rank[key]
        self.expires.pop(key, None)

    def _victim(self):
        if self.policy == "RR":  # the cache under test is built with choice=min
            return min(self.values)
        return min(self.rank, key=self.rank.get)

    def _used(self, key, new):
        self.tick += 1
        if self.policy in ("LRU", "TTL"):
            self.rank[key] = self.tick
        elif self.policy == "FIFO" and new is not None:
            self.rank[key] = self.tick  # stored (again)
        elif self.policy == "LFU":
            count = 1 if new == "insert" else self.rank[key][0] + 1
            self.rank[key] = (count, self.tick)
        elif self.policy == "RR":
            self.rank[key] = 0

    def set(self, key, value, ttl=None):
        self._alive()
        if key in self.values:
            self.values[key] = value
            self._used(key, "update")
        else:
            if len(self.values) >= MAXSIZE:
                self._drop(self._victim())
            self.values[key] = value
            self._used(key, "insert")
        if self.policy == "TTL":
            self.expires[key] = self.latest + (self.ttl if ttl is None else ttl)

    def get(self, key):
        self._alive()
        if key in self.values:
            self.hits += 1
            self._used(key, None)
            return self.values[key]
        self.misses += 1
        return None

    def delete(self, key):
        self._alive()
        if key not in self.values:
            return False
        self._drop(key)
        return True


def _make(policy, clock):
    return {
        "LRU": lambda: LRUCache(MAXSIZE),
        "FIFO": lambda: FIFOCache(MAXSIZE),
        "LFU": lambda: LFUCache(MAXSIZE),
        "RR": lambda: RRCache(MAXSIZE, choice=min),
        "TTL": lambda: TTLCache(MAXSIZE, ttl=TTL, timer=clock),
    }[policy]()


def machine_for(policy):
    class CacheMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.clock = FakeClock()
            self.cache = _make(policy, self.clock)
            self.model = Model(policy, self.clock)

        @rule(key=KEYS, value=st.integers())
        def set(self, key, value):
            self.cache[key] = value
            self.model.set(key, value)

        @rule(key=KEYS)
        def get(self, key):
            assert self.cache.get(key) == self.model.get(key)

        @rule(key=KEYS)
        def delete(self, key):
            try:
                del self.cache[key]
                deleted = True
            except KeyError:
                deleted = False
            assert deleted == self.model.delete(key)

        @rule(seconds=st.sampled_from([0, 1, 2, 5]))
        def wait(self, seconds):
            self.clock.tick(seconds)

        if policy == "TTL":
            # Per-key ttls, a ttl changed at runtime and a clock that steps back:
            # expiry order is no longer the order keys were stored in.
            @rule(key=KEYS, value=st.integers(), ttl=st.sampled_from([1, 2, 3, 7]))
            def set_with_ttl(self, key, value, ttl):
                self.cache.set(key, value, ttl=ttl)
                self.model.set(key, value, ttl)

            @rule(ttl=st.sampled_from([1, 4, TTL]))
            def change_ttl(self, ttl):
                self.cache.ttl = self.model.ttl = ttl

            @rule(seconds=st.sampled_from([1, 3]))
            def rewind(self, seconds):
                self.clock.now = max(self.clock.now - seconds, 0)

        @invariant()
        def same_contents(self):
            self.model._alive()
            assert dict(self.cache.items()) == self.model.values
            assert len(self.cache) == len(list(self.cache)) == len(self.model.values)
            info = self.cache.cache_info()
            assert info.hits == self.model.hits
            assert info.misses == self.model.misses
            assert info.currsize <= MAXSIZE

    CacheMachine.__name__ = f"{policy}Machine"
    return CacheMachine


for _policy in ["LRU", "FIFO", "LFU", "RR", "TTL"]:
    _machine = machine_for(_policy)
    _machine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
    globals()[f"Test{_policy}AgainstModel"] = _machine.TestCase


# -- differential: the same operations on cachetools give the same caches

OPS = st.lists(
    st.tuples(st.sampled_from(["set", "get", "del", "pop", "wait"]), KEYS, st.integers(0, 3)),
    max_size=60,
)


def _run(cache, ops, clock):
    seen = []
    for op, key, n in ops:
        if op == "set":
            cache[key] = n
        elif op == "get":
            seen.append(cache.get(key, "miss"))
        elif op == "del":
            seen.append(cache.pop(key, "absent"))
        elif op == "pop" and len(cache):
            seen.append(cache.popitem())
        elif op == "wait":
            clock.tick(n)
    return seen, sorted(cache.items())


@pytest.mark.parametrize("name", ["LRUCache", "FIFOCache", "LFUCache", "TTLCache"])
@settings(max_examples=150, deadline=None)
@given(ops=OPS)
def test_same_behaviour_as_cachetools(name, ops):
    results = []
    for module in (cachetools, __import__("cachelab")):
        clock = FakeClock()
        cls = getattr(module, name)
        cache = cls(MAXSIZE, ttl=TTL, timer=clock) if name == "TTLCache" else cls(MAXSIZE)
        results.append(_run(cache, ops, clock))
    # Same reads, same evictions (popitem is the eviction hook), same contents.
    # For LFU this is stronger than equal frequencies: ties break the same way too.
    assert results[0] == results[1]


# -- threads

@pytest.mark.parametrize("cls", [LRUCache, LFUCache, FIFOCache, RRCache])
def test_threads_share_a_locked_cache(cls):
    cache = cls(16)
    calls = []

    @cached(cache, lock=threading.Lock())
    def square(x):
        calls.append(x)
        return x * x

    per_thread, n_threads = 2000, 8
    errors = []

    def worker(seed):
        import random
        rng = random.Random(seed)
        try:
            for _ in range(per_thread):
                x = rng.randrange(40)
                assert square(x) == x * x
                assert cache.currsize <= cache.maxsize
        except AssertionError as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    info = square.cache_info()
    assert not errors
    assert info.currsize <= info.maxsize
    assert info.hits + info.misses == per_thread * n_threads
    assert len(calls) == info.misses  # every miss computed once, every hit did not


def test_cached_memoizes_and_clears():
    cache = LRUCache(2)
    calls = []

    @cached(cache)
    def double(x, *, scale=2):
        calls.append(x)
        return x * scale

    assert double(1) == 2 and double(1) == 2 and double(1, scale=3) == 3
    assert calls == [1, 1]
    assert double.cache_info().hits == 1
    double.cache_clear()
    assert double.cache_info().currsize == 0
    assert double.__name__ == "double" and double.cache is cache


def test_cached_rejects_bad_arguments():
    with pytest.raises(TypeError, match="cache"):
        cached([])
    with pytest.raises(TypeError, match="cache"):
        cached(None)
    with pytest.raises(TypeError, match="lock"):
        cached(LRUCache(2), lock=object())


@pytest.mark.parametrize("make", [dict, lambda: LRUCache(16), lambda: __import__("cachetools").LRUCache(16)],
                         ids=["dict", "cachelab", "cachetools"])
def test_cached_over_any_cache_keeps_its_own_counts(make):
    """Two functions sharing one cache keep separate statistics, as lru_cache's do."""
    cache = make()

    @cached(cache, key=lambda x: ("sq", x))
    def square(x):
        return x * x

    @cached(cache, key=lambda x: ("cube", x))
    def cube(x):
        return x ** 3

    assert [square(2), square(2), square(3)] == [4, 4, 9]
    assert cube(2) == 8
    assert square.cache_info()[:2] == (1, 2)
    assert cube.cache_info()[:2] == (0, 1)
    assert square.cache_info().currsize == 3  # one cache, both functions' keys


@pytest.mark.parametrize("make", [dict, lambda: LRUCache(16), lambda: __import__("cachetools").LRUCache(16)],
                         ids=["dict", "cachelab", "cachetools"])
def test_caches_satisfy_the_protocol(make):
    from cachelab import CacheLike, CacheAside

    cache = make()
    assert isinstance(cache, CacheLike)
    aside = CacheAside(cache, load=lambda key: key.upper())
    assert aside.read("a") == "A" and cache.get("a") == "A"
    assert aside.invalidate("a") == 1 and cache.get("a", None) is None


def test_protocol_refuses_what_is_not_a_cache():
    from cachelab import CacheLike

    assert not isinstance([], CacheLike) and not isinstance(None, CacheLike)
