"""The Redis lock and stale-while-revalidate over a real Valkey server, with real processes."""

import math
import multiprocessing
import os
import signal
import threading
import time

import pytest

from cachelab import FakeClock
from cachelab.redis import RedisCache
from cachelab.stampede import (Jitter, LocalClaims, LockTimeout, RedisClaims, RedisLock,
                               RedisLockGuard, StaleWhileRevalidate, XFetch, prewarm)

FORK = multiprocessing.get_context("fork")


@pytest.fixture
def client(server):
    client = server.client()
    client.flushdb()
    yield client
    client.close()


def test_a_release_by_a_non_holder_deletes_nothing(client):
    holder = RedisLock(client, "lock:k", lease=10)
    other = RedisLock(client, "lock:k", lease=10)
    assert holder.acquire(blocking=False)
    assert not other.acquire(blocking=False)
    other.token = "a token someone made up"
    assert other.release() is False
    assert client.get("lock:k").decode() == holder.token  # still the holder's
    assert holder.release() is True and not holder.locked()


def test_a_slow_holder_cannot_release_the_next_holders_lock(client):
    slow = RedisLock(client, "lock:k", lease=0.05)
    assert slow.acquire()
    time.sleep(0.1)  # its lease ran out while it was "working"
    fresh = RedisLock(client, "lock:k", lease=10)
    assert fresh.acquire(blocking=False)
    assert slow.release() is False  # the compare-and-delete sees another token
    assert client.get("lock:k").decode() == fresh.token
    fresh.release()


def test_waiting_is_bounded_by_a_timeout_with_a_clear_error(client):
    RedisLock(client, "lock:k", lease=10).acquire()
    sleeps = []
    waiter = RedisLock(client, "lock:k", timeout=0.2, sleep=lambda s: (sleeps.append(s), time.sleep(s)))
    with pytest.raises(LockTimeout, match=r"'lock:k' within timeout=0.2 s"):
        waiter.acquire()
    assert len(sleeps) >= 2 and sleeps[1] > sleeps[0]  # it backed off


LEASE = 1.5  # seconds: long enough that a loaded machine still sees the dead holder's lock


def _hold_and_hang(url, ready):
    import redis

    lock = RedisLock(redis.Redis.from_url(url), "lock:k", lease=LEASE)
    lock.acquire()
    ready.set()
    time.sleep(60)  # killed long before this


def test_a_holder_killed_mid_load_frees_the_lock_within_its_lease(client, server):
    ready = FORK.Event()
    holder = FORK.Process(target=_hold_and_hang, args=(server.url, ready))
    holder.start()
    try:
        assert ready.wait(10)
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(5)
        left = client.pttl("lock:k")
        assert 0 < left <= LEASE * 1000  # the dead holder's lock is still there, for at most its lease
        waiter = RedisLock(client, "lock:k", timeout=LEASE + 5)
        assert not waiter.acquire(blocking=False)
        assert waiter.acquire()  # taken once the lease ran out
        waiter.release()
    finally:
        if holder.is_alive():
            holder.kill()
        holder.join(5)


# -- 8 processes x 8 threads, one load per key per expiry -------------------------------------------

PROCESSES, THREADS, KEYS, ROUNDS = 8, 8, 4, 3


def _herd(url, process, barrier, errors):
    import redis

    client = redis.Redis.from_url(url)
    cache = RedisCache(client, prefix="herd:")
    guard = RedisLockGuard(client, lease=5, timeout=20)

    def load(key):
        client.incr(f"loads:{key}")
        time.sleep(0.05)  # a slow database read
        return f"value of {key}"

    def thread(t):
        try:
            for _ in range(ROUNDS):
                barrier.wait(30)  # everyone misses at once
                for k in range(KEYS):
                    key = f"k{(k + t) % KEYS}"
                    if guard.fetch(cache, key, load) != f"value of {key}":
                        errors.put(f"wrong value for {key}")
                barrier.wait(30)
                if process == 0 and t == 0:  # the expiry: every key goes at once
                    client.delete(*(f"herd:k{k}" for k in range(KEYS)))
                barrier.wait(30)
        except Exception as error:  # noqa: BLE001 - reported to the parent
            errors.put(repr(error))

    threads = [threading.Thread(target=thread, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.close()


def test_8_processes_by_8_threads_make_one_load_per_key_per_expiry(client, server, capsys):
    barrier = FORK.Barrier(PROCESSES * THREADS)
    errors = FORK.Queue()
    processes = [FORK.Process(target=_herd, args=(server.url, p, barrier, errors))
                 for p in range(PROCESSES)]
    for p in processes:
        p.start()
    try:
        for p in processes:
            p.join(60)
        assert [p.exitcode for p in processes] == [0] * PROCESSES
    finally:
        for p in processes:
            if p.is_alive():
                p.kill()
                p.join(5)
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    assert problems == []
    loads = {k: int(client.get(f"loads:k{k}")) for k in range(KEYS)}
    assert loads == {k: ROUNDS for k in range(KEYS)}
    with capsys.disabled():
        print(f"\nRedis lock: {PROCESSES * THREADS} clients x {KEYS} keys x {ROUNDS} expiries -> "
              f"loads per key {loads}")


# -- stale-while-revalidate and XFetch over RedisCache ---------------------------------------------

def test_swr_over_redis_one_refresh_per_soft_expiry(client):
    clock = FakeClock(1_000_000.0)
    cache = RedisCache(client, prefix="swr:")
    swr = StaleWhileRevalidate(soft_ttl=10, hard_ttl=30, clock=clock, background=False)
    calls = []

    def load(key):
        calls.append(clock())
        return {"price": len(calls)}

    assert swr.fetch(cache, "p1", load) == {"price": 1}
    assert 0 < client.pttl("swr:p1") <= 30_000  # Redis drops the envelope at the hard expiry
    for expiry in range(1, 4):
        clock.tick(15)
        assert [swr.fetch(cache, "p1", load) for _ in range(10)] == [{"price": expiry}] * 10
        assert swr.pump() == 1
    assert len(calls) == 4
    assert swr.stats().stale == 30 and swr.stats().refreshes == 3
    clock.tick(31)  # past the hard expiry: a reader waits for a load
    assert swr.fetch(cache, "p1", load) == {"price": 5}


def test_xfetch_over_redis_keeps_its_envelope(client):
    clock = FakeClock(1_000_000.0)
    cache = RedisCache(client, prefix="xf:")
    xf = XFetch(ttl=10, clock=clock, random=lambda: 0.5)
    assert xf.fetch(cache, "k", lambda key: [1, 2]) == [1, 2]
    assert cache.get("k")["expiry"] == 1_000_010.0
    assert xf.fetch(cache, "k", lambda key: "never") == [1, 2]


# -- refresh claims: one refresh per process, or one in the whole system ---------------------------

SERVERS = 4


def _four_servers(server, claims_for):
    """Four app servers: each its own client and SWR, one shared RedisCache, one fake clock."""
    clock = FakeClock(1_000_000.0)
    clients = [server.client() for _ in range(SERVERS)]
    swrs = [StaleWhileRevalidate(soft_ttl=10, hard_ttl=60, clock=clock, background=False,
                                 claims=claims_for(c)) for c in clients]
    caches = [RedisCache(c, prefix="four:") for c in clients]
    return clock, clients, swrs, caches


@pytest.mark.parametrize("claims_for, refreshes", [(lambda c: LocalClaims(), SERVERS),
                                                    (lambda c: RedisClaims(c, lease=5), 1)],
                         ids=["per-process set", "SET NX PX"])
def test_swr_refreshes_once_per_server_or_once_in_all(client, server, claims_for, refreshes):
    clock, clients, swrs, caches = _four_servers(server, claims_for)
    loads = []
    load = lambda key: loads.append(key) or len(loads)  # noqa: E731
    swrs[0].fetch(caches[0], "p1", load)
    clock.tick(12)  # past the soft expiry: every server's first reader wants a refresh
    assert [swr.fetch(cache, "p1", load) for swr, cache in zip(swrs, caches) for _ in range(3)] == [1] * 12
    assert sum(swr.pump() for swr in swrs) == refreshes
    assert len(loads) == 1 + refreshes and client.keys("refresh:*") == []
    for c in clients:
        c.close()


def test_redis_claims_one_winner_among_threads_with_their_own_clients(server, client):
    barrier = threading.Barrier(16)
    won = []

    def claimer():
        own = server.client()
        barrier.wait()
        token = RedisClaims(own, lease=5).claim("hot")
        won.append(token)
        own.close()

    threads = [threading.Thread(target=claimer) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(token is not None for token in won) == 1
    assert 0 < client.pttl("refresh:hot") <= 5000  # the lease frees it if the winner dies


def test_a_claim_whose_lease_passed_is_not_released_by_its_first_owner(client):
    first, second = RedisClaims(client, lease=0.05), RedisClaims(client, lease=5)
    old = first.claim("k")
    time.sleep(0.1)  # the lease has passed (Redis expires keys on its own clock)
    new = second.claim("k")
    assert new is not None and first.release("k", old) is False
    assert second.release("k", new) is True


def test_xfetch_with_redis_claims_one_recompute_and_the_others_serve_the_old_value(server, client):
    clock = FakeClock(1_000_000.0)
    clients = [server.client() for _ in range(SERVERS)]
    fetchers = [XFetch(ttl=10, clock=clock, random=lambda: 1.0, claims=RedisClaims(c, lease=5))
                for c in clients]
    caches = [RedisCache(c, prefix="xfc:") for c in clients]
    loads = []

    def load(key):
        loads.append(key)
        if len(loads) == 2:  # while this recompute runs, every other server reads
            assert [f.fetch(c, key, load) for f, c in zip(fetchers[1:], caches[1:])] == [1] * 3
        return len(loads)

    assert fetchers[0].fetch(caches[0], "k", load) == 1
    clock.tick(11)  # past the expiry
    assert fetchers[0].fetch(caches[0], "k", load) == 2
    assert len(loads) == 2 and sum(f.stats().stale for f in fetchers) == 3
    for c in clients:
        c.close()


def test_a_guard_waiting_on_a_held_lock_gives_up_with_a_clear_error(client):
    cache = RedisCache(client, prefix="held:")
    RedisLock(client, "lock:k", lease=10).acquire()  # a holder that never stores the value
    guard = RedisLockGuard(client, timeout=0.2)
    with pytest.raises(LockTimeout, match=r"key 'k'.*'lock:k' stayed taken"):
        guard.fetch(cache, "k", lambda key: "never called")
    assert guard.loads == 0


def test_jitter_and_prewarm_set_ttls_in_redis(client):
    cache = RedisCache(client, prefix="warm:")
    assert Jitter(0.1, random=lambda: 0.0).set(cache, "k", "v", 10) == 9.0
    assert 8_000 < client.pttl("warm:k") <= 9_000
    draws = iter([0.0, 0.999])
    assert prewarm(cache, ["a", "b"], str.upper, ttl=100, jitter=0.5, random=lambda: next(draws),
                   progress=False) == 2
    assert 49_000 < client.pttl("warm:a") <= 50_000 and 149_000 < client.pttl("warm:b") <= 150_000


# -- faults: the lock's server down or hung ---------------------------------------------------------

def test_the_guard_fails_open_while_the_lock_is_unreachable_and_logs_once(own_server, caplog):
    guard = RedisLockGuard(own_server.client(), timeout=5)
    cache = {}
    own_server.stop()
    with caplog.at_level("WARNING", logger="cachelab.stampede"):
        assert [guard.fetch(cache, f"k{i}", str.upper) for i in range(3)] == ["K0", "K1", "K2"]
        assert (guard.loads, guard.unguarded) == (3, 3) and cache == {"k0": "K0", "k1": "K1", "k2": "K2"}
        assert ["unreachable" in r.message for r in caplog.records] == [True]  # one line, not three
        own_server.start()
        assert guard.fetch(cache, "k3", str.upper) == "K3"  # under the lock again
    assert (guard.loads, guard.unguarded) == (4, 3)
    assert "reachable again" in caplog.records[-1].message
    assert not guard.lock("k3").locked()  # and released


def test_a_release_that_fails_after_the_load_keeps_the_loaded_value(own_server):
    guard = RedisLockGuard(own_server.client(), timeout=5)
    cache = {}

    def load(key):
        own_server.stop()  # the server goes away while the value loads
        return f"value of {key}"

    assert guard.fetch(cache, "k", load) == "value of k"
    assert cache == {"k": "value of k"} and (guard.loads, guard.unguarded) == (1, 0)


def _ends(func):
    """func()'s value or exception, from a thread that must end (generous: the old code never did)."""
    outcome = []

    def run():
        try:
            outcome.append(func())
        except Exception as error:  # noqa: BLE001 - the outcome is what the test checks
            outcome.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "still waiting for the hung server"
    return outcome[0]


def test_acquire_on_a_hung_server_fails_instead_of_hanging(own_server):
    """SIGSTOP: the kernel accepts the request, nobody answers; the client's socket timeout ends the wait."""
    import redis

    lock = RedisLock(own_server.client(), "lock:k", lease=10)
    assert lock.locked() is False  # connected before the hang
    os.kill(own_server.pid, signal.SIGSTOP)
    try:
        outcome = _ends(lambda: lock.acquire(timeout=0.5))
    finally:
        os.kill(own_server.pid, signal.SIGCONT)
    assert isinstance(outcome, redis.TimeoutError) and lock.token is None


def test_the_guard_fails_open_on_a_hung_server_too(own_server):
    guard = RedisLockGuard(own_server.client(timeout=0.2), timeout=5)
    os.kill(own_server.pid, signal.SIGSTOP)
    try:
        outcome = _ends(lambda: guard.fetch({}, "k", str.upper))
    finally:
        os.kill(own_server.pid, signal.SIGCONT)
    assert outcome == "K" and guard.unguarded == 1


def test_xfetch_refuses_an_infinite_ttl_before_it_reaches_redis(client):
    with pytest.raises(ValueError, match="ttl"):
        XFetch(ttl=math.inf)
    with pytest.raises(ValueError, match=r"ttl must be at most 1e\+15"):
        XFetch(ttl=1e17)
    cache = RedisCache(client, prefix="xf-ttl:")
    xf = XFetch(ttl=5e14, grace=0)  # the largest there is room for stores as usual
    assert xf.fetch(cache, "k", lambda key: "v") == "v" and cache.get("k")["value"] == "v"
