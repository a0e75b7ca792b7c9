"""Stampede protection with real threads and asyncio tasks, on a fake clock where time matters."""

import asyncio
import io
import math
import threading
import time

import pytest

from cachelab import FakeClock, LRUCache, TTLCache, cached
from cachelab.caches import MISSING
from cachelab.patterns import CacheAside, ReadThrough
from cachelab.stampede import (
    AsyncSingleFlight,
    Jitter,
    RedisLock,
    RedisLockGuard,
    SingleFlight,
    StaleWhileRevalidate,
    XFetch,
    jittered_ttl,
    prewarm,
    top_keys,
    xfetch_recompute,
)

SLOW = 0.2  # seconds a slow loader takes: long enough for 100 threads to pile up behind it


@pytest.fixture(autouse=True)
def no_thread_left_behind():
    before = set(threading.enumerate())
    yield
    for thread in set(threading.enumerate()) - before:
        thread.join(5)
    assert set(threading.enumerate()) <= before, "a test left a thread running"


class Loader:
    """A slow database read that counts its calls."""

    def __init__(self, delay=SLOW, fail=False):
        self.delay, self.fail = delay, fail
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, key):
        with self._lock:
            self.calls += 1
        time.sleep(self.delay)
        if self.fail:
            raise ConnectionError(f"database down while loading {key!r}")
        return f"value of {key}"


def run_threads(n, target):
    """Start n threads that wait at one barrier, then call target(); return their results."""
    barrier = threading.Barrier(n)
    results = [MISSING] * n

    def work(i):
        barrier.wait()
        try:
            results[i] = target()
        except Exception as error:  # noqa: BLE001 - the test looks at what each thread got
            results[i] = error

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# -- single-flight, threads -------------------------------------------------------------------

def test_100_threads_one_loader_call():
    load, flight, cache = Loader(), SingleFlight(), {}
    results = run_threads(100, lambda: flight.fetch(cache, "hot", load))
    assert load.calls == 1
    assert results == ["value of hot"] * 100
    # A thread that missed just before the value landed, and asks after the flight ended, leads
    # a flight of its own, which finds the value stored and loads nothing: one load all the same.
    assert flight.loads + flight.shared == 100 and flight.shared >= 1
    assert cache == {"hot": "value of hot"}


def test_without_protection_the_same_100_threads_stampede(capsys):
    load = Loader()

    @cached(LRUCache(10))
    def read(key):
        return load(key)

    results = run_threads(100, lambda: read("hot"))
    assert results == ["value of hot"] * 100
    assert load.calls > 1  # every thread that missed before the first load landed loaded too
    with capsys.disabled():
        print(f"\nno protection: 100 threads at a barrier made {load.calls} loader calls")


def test_cached_single_flight_makes_one_call():
    load = Loader()

    @cached(LRUCache(10), lock=threading.Lock(), single_flight=True)
    def read(key):
        return load(key)

    assert run_threads(100, lambda: read("hot")) == ["value of hot"] * 100
    assert load.calls == 1
    assert read("hot") == "value of hot" and load.calls == 1  # now a plain hit


def test_cached_single_flight_shared_between_functions_and_checked():
    flight = SingleFlight()
    load = Loader(delay=0)
    read = cached({}, single_flight=flight)(load)
    assert read("k") == "value of k" and flight.loads == 1
    with pytest.raises(TypeError, match="single_flight"):
        cached({}, single_flight="yes")


@pytest.mark.parametrize("pattern", [CacheAside, ReadThrough])
def test_patterns_take_a_guard(pattern):
    load = Loader()
    reader = pattern({}, load, guard=SingleFlight())
    assert run_threads(50, lambda: reader.read("hot")) == ["value of hot"] * 50
    assert load.calls == 1
    with pytest.raises(TypeError, match="guard"):
        pattern({}, load, guard=object())


def test_loader_error_reaches_every_waiter_and_is_not_cached():
    load, flight, cache = Loader(fail=True), SingleFlight(), {}
    results = run_threads(20, lambda: flight.fetch(cache, "hot", load))
    assert load.calls == 1
    assert all(isinstance(r, ConnectionError) for r in results)
    assert cache == {}
    load.fail = False
    assert flight.fetch(cache, "hot", load) == "value of hot"  # the next call retries
    assert load.calls == 2


def test_a_loader_reading_another_key_does_not_deadlock():
    flight, cache = SingleFlight(), {}
    inner = Loader()

    def outer(key):
        return "outer+" + flight.fetch(cache, "inner", inner)

    results = run_threads(20, lambda: flight.fetch(cache, "outer", outer))
    assert results == ["outer+value of inner"] * 20
    assert inner.calls == 1


def test_a_loader_asking_for_its_own_key_is_a_clear_error():
    flight = SingleFlight()
    with pytest.raises(RuntimeError, match="same key"):
        flight.fetch({}, "k", lambda key: flight.fetch({}, "k", lambda k: 1))


# -- single-flight, asyncio ---------------------------------------------------------------------

def test_1000_tasks_one_call():
    calls = 0

    async def load(key):
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return key * 2

    async def main():
        flight, cache = AsyncSingleFlight(), {}
        results = await asyncio.gather(*(flight.fetch(cache, 21, load) for _ in range(1000)))
        return results, flight

    results, flight = asyncio.run(main())
    assert calls == 1 and results == [42] * 1000
    assert (flight.loads, flight.shared) == (1, 999)


def test_async_error_reaches_every_task_and_the_next_call_retries():
    calls = 0

    async def load(key):
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 1:
            raise ConnectionError("down")
        return "up"

    async def main():
        flight, cache = AsyncSingleFlight(), {}
        first = await asyncio.gather(*(flight.fetch(cache, "k", load) for _ in range(10)),
                                     return_exceptions=True)
        return first, await flight.fetch(cache, "k", load), cache

    first, second, cache = asyncio.run(main())
    assert all(isinstance(r, ConnectionError) for r in first)
    assert (calls, second, cache) == (2, "up", {"k": "up"})


def test_cancelling_the_first_caller_cancels_neither_the_load_nor_the_others():
    ended = []

    async def main():
        flight, release = AsyncSingleFlight(), asyncio.Event()

        async def load():
            try:
                await release.wait()
                return "v"
            finally:
                ended.append("load")

        leader = asyncio.create_task(flight.do("k", load))
        await asyncio.sleep(0)  # the leader has started the load
        followers = [asyncio.create_task(flight.do("k", load)) for _ in range(5)]
        await asyncio.sleep(0)  # and the followers wait for it
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        release.set()
        return await asyncio.gather(*followers), flight

    results, flight = asyncio.run(main())
    assert results == ["v"] * 5 and ended == ["load"]
    assert (flight.loads, flight.shared) == (1, 5)


def test_a_load_every_caller_gave_up_on_is_cancelled_and_the_next_call_loads_afresh():
    cancelled = []

    async def main():
        flight = AsyncSingleFlight()

        async def hang():
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append("load")
                raise

        callers = [asyncio.create_task(flight.do("k", hang)) for _ in range(3)]
        await asyncio.sleep(0)
        for caller in callers:
            caller.cancel()
        await asyncio.gather(*callers, return_exceptions=True)
        await asyncio.sleep(0)  # the load's own cancellation lands

        async def fresh():
            return "fresh"

        return await flight.do("k", fresh)

    assert asyncio.run(main()) == "fresh" and cancelled == ["load"]


def test_an_async_loader_awaiting_its_own_key_is_a_clear_error():
    async def main():
        flight = AsyncSingleFlight()

        async def load(key):
            return await flight.fetch({}, key, load)

        # wait_for: the old behaviour was to wait for itself forever
        return await asyncio.wait_for(flight.fetch({}, "k", load), 10)

    with pytest.raises(RuntimeError, match="same key"):
        asyncio.run(main())


# -- stale-while-revalidate -----------------------------------------------------------------------

class ClockLoader:
    """A load that takes `delta` seconds of a FakeClock, and returns how many loads so far."""

    def __init__(self, clock, delta=1.0):
        self.clock, self.delta, self.calls = clock, delta, 0

    def __call__(self, key):
        self.calls += 1
        self.clock.tick(self.delta)
        return self.calls


def test_swr_one_refresh_per_soft_expiry_and_stale_reads_at_hit_latency():
    clock = FakeClock()
    load = ClockLoader(clock)
    swr, cache = StaleWhileRevalidate(soft_ttl=10, hard_ttl=30, clock=clock, background=False), {}
    assert swr.fetch(cache, "k", load) == 1  # cold: the reader waits for the load
    for expiry in range(1, 6):
        clock.tick(10.5)  # past the soft expiry, before the hard one
        for _ in range(20):  # 20 readers, each served at once with the old value
            before = clock()
            assert swr.fetch(cache, "k", load) == expiry
            assert clock() == before  # no wait: hit latency
        assert swr.pump() == 1  # exactly one refresh queued
        assert swr.fetch(cache, "k", load) == expiry + 1
    assert load.calls == 6
    assert swr.stats() == (5, 100, 1, 5, 0)  # fresh, stale, misses, refreshes, errors


def test_swr_hard_expiry_bounds_staleness():
    clock = FakeClock()
    load = ClockLoader(clock)
    swr, cache = StaleWhileRevalidate(10, 30, clock=clock, background=False), {}
    swr.fetch(cache, "k", load)
    clock.tick(31)
    before = clock()
    assert swr.fetch(cache, "k", load) == 2  # too old to serve: the reader waits for a load
    assert clock() - before == 1.0
    assert swr.stats().misses == 2 and swr.stats().stale == 0


def test_swr_failed_refresh_keeps_the_stale_value_and_retries():
    clock = FakeClock()
    swr, cache = StaleWhileRevalidate(10, 30, clock=clock, background=False), {}
    swr.fetch(cache, "k", lambda key: "old")
    clock.tick(11)
    assert swr.fetch(cache, "k", Loader(delay=0, fail=True)) == "old"
    swr.pump()
    assert swr.stats().errors == 1
    assert swr.fetch(cache, "k", lambda key: "new") == "old"
    swr.pump()
    assert swr.fetch(cache, "k", lambda key: "newer") == "new"


def test_swr_background_refresh_with_threads():
    load, cache = Loader(), {}
    clock = FakeClock()
    swr = StaleWhileRevalidate(10, 30, clock=clock)
    cache["k"] = {"value": "old", "soft_expiry": -1.0, "hard_expiry": 30.0}
    results = run_threads(50, lambda: swr.fetch(cache, "k", load))
    assert results == ["old"] * 50  # nobody waited for the 0.2 s load
    swr.wait()
    assert load.calls == 1 and cache["k"]["value"] == "value of k"


def test_swr_over_a_ttl_cache_lets_the_cache_drop_it_at_the_hard_expiry():
    clock = FakeClock()
    cache = TTLCache(10, ttl=1000, timer=clock)
    swr = StaleWhileRevalidate(10, 30, clock=clock, background=False)
    swr.fetch(cache, "k", lambda key: "v")
    clock.tick(30)
    assert "k" not in cache


# -- XFetch ---------------------------------------------------------------------------------------

def test_xfetch_rule():
    # 2 s before expiry with delta 1: recompute iff -log(u) >= 2, i.e. u <= e**-2.
    assert xfetch_recompute(8, 1, 10, random=lambda: math.exp(-2) - 1e-9)
    assert not xfetch_recompute(8, 1, 10, random=lambda: math.exp(-2) + 1e-9)
    assert xfetch_recompute(8, 1, 10, beta=2, random=lambda: math.exp(-1) - 1e-9)
    assert xfetch_recompute(8, 1, 10, random=lambda: 0.0)


def test_xfetch_recomputes_early_by_chance_and_records_delta():
    clock = FakeClock()
    draws = iter([0.9, 0.001])
    xf, cache = XFetch(ttl=10, clock=clock, random=lambda: next(draws)), {}
    load = ClockLoader(clock, delta=2)
    assert xf.fetch(cache, "k", load) == 1
    assert cache["k"] == {"value": 1, "delta": 2.0, "expiry": 12.0}
    clock.tick(8)  # 2 s before expiry: u = 0.9 says no, u = 0.001 says yes
    assert xf.fetch(cache, "k", load) == 1
    assert xf.fetch(cache, "k", load) == 2
    assert xf.stats() == (1, 1, 1, 0, 2)  # hits, early, misses, stale, recomputes


def test_xfetch_marker_lets_the_others_serve_the_old_value():
    clock = FakeClock()
    xf, cache = XFetch(ttl=10, clock=clock, random=lambda: 1e-12, marker=True), {}
    cache["k"] = {"value": "old", "delta": 1.0, "expiry": 10.0}
    clock.tick(9)
    started, release = threading.Event(), threading.Event()

    def slow(key):
        started.set()
        release.wait(5)
        return "new"

    worker = threading.Thread(target=xf.fetch, args=(cache, "k", slow))
    worker.start()
    started.wait(5)
    assert cache["k"]["marked_until"] == 19.0
    assert [xf.fetch(cache, "k", Loader()) for _ in range(5)] == ["old"] * 5
    clock.tick(2)  # past the expiry: still the old value, no wait, while the mark holds
    assert xf.fetch(cache, "k", Loader()) == "old"
    release.set()
    worker.join()
    assert cache["k"]["value"] == "new" and "marked_until" not in cache["k"]
    assert xf.stats().recomputes == 1 and xf.stats().stale == 1


# -- jitter and pre-warming -----------------------------------------------------------------------

def test_jitter_spreads_within_bounds_and_is_seeded():
    ttls = [jittered_ttl(100, 0.1, random=r) for r in (lambda: 0.0, lambda: 0.5, lambda: 0.999999)]
    assert ttls[0] == pytest.approx(90) and ttls[1] == 100 and ttls[2] == pytest.approx(110, abs=1e-3)
    a, b = Jitter(0.1, seed=3), Jitter(0.1, seed=3)
    assert [a(60) for _ in range(5)] == [b(60) for _ in range(5)]
    assert all(54 <= a(60) <= 66 for _ in range(1000))


def test_jitter_sets_the_ttl_on_an_expiring_cache():
    clock = FakeClock()
    cache = TTLCache(10, ttl=1000, timer=clock)
    used = Jitter(0.5, random=lambda: 0.0).set(cache, "k", "v", 10)
    assert used == 5.0
    clock.tick(4.9)
    assert cache.get("k") == "v"
    clock.tick(0.2)
    assert cache.get("k") is None
    with pytest.raises(TypeError, match="set\\(key, value, ttl\\)"):
        Jitter(0.1).set({}, "k", "v", 10)


def test_top_keys_and_prewarm():
    log = ["a", "b", "a", "c", "a", "b", "d"]
    assert top_keys(log, 2) == ["a", "b"]
    cache = {"b": "cached"}
    bar = io.StringIO()
    loaded = prewarm(cache, top_keys(log, 3), lambda key: key.upper(), file=bar)
    assert loaded == 2 and cache == {"a": "A", "b": "cached", "c": "C"}
    assert "pre-warming" in bar.getvalue() and "3/3" in bar.getvalue()


# -- bad inputs name their parameter -------------------------------------------------------------

@pytest.mark.parametrize("make, name", [
    (lambda: RedisLock(object(), "x", lease=-1), "lease"),
    (lambda: RedisLockGuard(object(), lease=0), "lease"),
    (lambda: XFetch(10, beta=0), "beta"),
    (lambda: XFetch(10, beta=-1), "beta"),
    (lambda: Jitter(1.0), "jitter"),
    (lambda: jittered_ttl(10, 1.5), "jitter"),
    (lambda: SingleFlight().fetch({}, "k", "not callable"), "load"),
    (lambda: StaleWhileRevalidate(10, 30).fetch({}, "k", None), "load"),
    (lambda: XFetch(10).fetch({}, "k", 42), "load"),
    (lambda: StaleWhileRevalidate(10, 5), "hard_ttl"),
    (lambda: prewarm({}, ["k"], None), "load"),
])
def test_bad_inputs_name_the_parameter(make, name):
    with pytest.raises((TypeError, ValueError), match=name):
        make()
