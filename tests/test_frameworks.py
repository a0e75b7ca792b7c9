"""Notebook 16's apparatus on real parts: the herd's loads per expiry for each library, and the Django shop."""

import asyncio
import threading

import pytest

from cachelab.lab.frameworks import DjangoShop, hit_latency, run_async
from cachelab.lab.herd import GUARDS, Herd, herd_table, run_guards
from cachelab.lab.store import Store

UNGUARDED = ["no guard (dict)", "Flask-Caching memoize (Redis)", "Django get_or_set (Redis)"]
GUARDED = ["cachetools cached(condition=)", "cachelab SingleFlight", "cachelab RedisLockGuard (Redis)",
           "dogpile memory", "dogpile Redis, distributed_lock"]


def test_every_guard_is_in_the_test():
    assert set(GUARDS) == {*UNGUARDED, *GUARDED, "dogpile Redis, soft expiry"}
    assert {name for name, guard in GUARDS.items() if not guard.coalesces} == set(UNGUARDED)


def test_herd_table_numbers(redis_url):
    """No guard: every thread loads, every expiry. A lock or single-flight: one load per key per expiry."""
    results = {r.name: r for r in run_guards(redis_url, threads=100, rounds=2)}
    for name in UNGUARDED:
        r = results[name]
        assert r.cold_loads == 100 and r.loads == (100, 100), (name, r)
    for name in GUARDED:
        r = results[name]
        assert r.cold_loads == 1 and r.loads == (1, 1) and r.stale == (0, 0), (name, r)
    soft = results["dogpile Redis, soft expiry"]
    # dogpile's soft expiry: one thread regenerates, the 99 others read the old value at once
    assert soft.cold_loads == 1 and soft.loads == (1, 1) and soft.stale == (99, 99)
    assert all(r.errors == 0 for r in results.values())
    assert not [t for t in threading.enumerate() if t.name.startswith("herd-")], "a herd thread outlived its round"
    table = herd_table(results.values())
    assert "dogpile Redis, soft expiry" in table and table.splitlines()[0].split()[:2] == ["guard", "threads"]


def test_one_load_per_key_per_expiry_with_several_keys(redis_url):
    (flight, lock, none) = run_guards(redis_url, ["cachelab SingleFlight", "dogpile Redis, distributed_lock",
                                                  "no guard (dict)"], threads=40, keys=4, rounds=1)
    assert flight.loads == (4,) and lock.loads == (4,) and flight.loads_per_expiry == 1
    assert none.loads == (40,) and none.loads_per_expiry == 10


def test_a_guard_the_learner_writes_is_graded_by_the_same_herd():
    """A lock taken around the whole read (no double check) still loads once; a lock-free read does not."""
    herd = Herd(20, rounds=2, settle=0.1)
    cache, lock = {}, threading.Lock()

    def locked(key):
        with lock:
            if key not in cache:
                cache[key] = herd.load(key)
            return cache[key]

    assert herd.run("one lock", locked, cache.clear).loads == (1, 1)


@pytest.mark.parametrize("cache", ["default", "redis"])
def test_django_shop_caches_views_per_user_and_fragments(redis_url, cache):
    store = Store(delay=0)
    with DjangoShop(store, redis_url=redis_url, cache=cache) as shop:
        first = [shop.client.get("/products/1").content for _ in range(3)]
        assert store.stats().reads == 1 and len(set(first)) == 1  # the per-view cache served two
        store.set_price(1, 5)
        assert shop.client.get("/products/1").content == first[0]  # stale until its timeout
        assert b"$5" in shop.client.get("/uncached/products/1").content
        shop.cache.clear()  # the low-level API: what a write would do
        assert b"$5" in shop.client.get("/products/1").content

        store.reset_stats()
        john = shop.client.get("/account", HTTP_COOKIE="user=101").content
        jane = shop.client.get("/account", HTTP_COOKIE="user=102").content
        assert john != jane and store.stats().reads == 2  # Vary: Cookie keeps one entry per user
        assert shop.client.get("/account", HTTP_COOKIE="user=101").content == john and store.stats().reads == 2

        store.reset_stats()
        guest, john = shop.client.get("/").content, shop.client.get("/", HTTP_COOKIE="user=101").content
        assert b"Hello guest" in guest and b"Hello 101" in john  # outside the fragment: per request
        assert store.stats().reads == 5  # the fragment's five products, read once
        assert shop.cache.get_or_set("answer", lambda: 42) == 42 and shop.cache.get("answer") == 42


def test_run_async_works_inside_a_running_loop():
    async def inner():
        await asyncio.sleep(0)
        return 7

    async def outer():  # as a notebook cell runs: inside a loop, where asyncio.run() refuses
        return run_async(inner())

    assert asyncio.run(outer()) == 7


def test_hit_latency_times_the_call():
    calls = []
    assert hit_latency(lambda: calls.append(1), n=10) >= 0 and len(calls) == 11
