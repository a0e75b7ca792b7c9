"""RedisCache over a real Valkey server: the cache contract, encoding, keys, and failing open."""

import logging
import math
import os
import signal
import socket
import time

import pytest

from cachelab import MISSING, FakeClock, LRUCache, TTLCache, cached
from cachelab.caches import CacheInfo, CacheLike, ExpiringCache
from cachelab.lab.ecommerce import ECommerceService
from cachelab.patterns import CacheAside, WriteThrough
from cachelab.redis import JSON, PICKLE, RedisCache, TwoLevelCache
from cachelab.security import payload_ran, planted_payload, reset_payload
from cachelab.redis import redis_server
from cachelab.lab.store import Store
from cachelab.lab.workloads import read_write_workload


def _raw(cache):
    """A plain client on the cache's server, for looking behind its back."""
    return cache.client


def test_it_is_an_expiring_cache_like_the_others(make_redis_cache):
    cache = make_redis_cache()
    assert isinstance(cache, CacheLike) and isinstance(cache, ExpiringCache)


@pytest.mark.parametrize("value", [None, 0, "", [], {}, False, 1.5, {"id": 1, "tags": ["a"]}])
def test_values_come_back_equal_and_falsy_values_are_hits(make_redis_cache, value):
    cache = make_redis_cache()
    cache["k"] = value
    assert cache.get("k", MISSING) == value and cache["k"] == value
    assert cache.get("absent", "d") == "d"
    with pytest.raises(KeyError):
        cache["absent"]
    assert cache.cache_info() == CacheInfo(hits=2, misses=2, maxsize=None, currsize=1)


KEYS = ["k", "1", 1, 1.0, True, False, 0, None, b"1", b"\xff", "~x", "é", "\udc80", "a:b",
        ("k", 2), (1, (b"", None)), (), float("inf")]


def test_keys_of_every_literal_type_are_kept_apart_and_come_back(make_redis_cache):
    cache = make_redis_cache()
    for i, key in enumerate(KEYS):
        cache[key] = i
    assert [cache[key] for key in KEYS] == list(range(len(KEYS)))  # 1, 1.0, True, "1": four keys
    assert sorted(map(repr, cache)) == sorted(map(repr, KEYS))  # read back as written, types too
    assert sorted(cache.items(), key=repr) == sorted(((k, i) for i, k in enumerate(KEYS)), key=repr)


@pytest.mark.parametrize("key", KEYS)
def test_name_of_and_key_of_are_inverse_and_documented(make_redis_cache, key):
    cache = make_redis_cache()
    name = cache.name_of(key)
    assert name.startswith(cache.prefix)
    assert repr(cache.key_of(name)) == repr(key) and repr(cache.key_of(name.encode())) == repr(key)
    cache[key] = "v"
    assert cache.client.keys(cache.prefix + "*") == [name.encode()]  # the name Redis holds


def test_the_encoding_is_readable_and_stable(make_redis_cache):
    cache = make_redis_cache(prefix="p:")
    assert [cache.name_of(k) for k in ("product:1", 1, 1.0, True, None, ("product", 1), b"hi", "~x")] == [
        "p:product:1", "p:~1", "p:~1.0", "p:~true", "p:~null", 'p:~["product",1]', 'p:~{"b":"6869"}',
        'p:~"~x"']
    assert cache.name_of(-0.0) == cache.name_of(0.0) == "p:~0.0"  # equal floats, one key
    assert cache.key_of(b"p:~1") == 1 and cache.key_of("p:plain") == "plain"


@pytest.mark.parametrize("name", ["q:k", b"p:\xff\xfe", "p:~ 1", "p:~[1", 'p:~{"c":1}', "p:~<Foo>", 42])
def test_key_of_refuses_a_name_that_is_not_one_of_this_caches_keys(make_redis_cache, name):
    cache = make_redis_cache(prefix="p:")
    with pytest.raises(KeyError):
        cache.key_of(name)


class _Plain:
    """An object with no value-based repr: its default repr holds its address."""


@pytest.mark.parametrize("key, kind", [(_Plain(), "_Plain"), (["k"], "list"), ({"a": 1}, "dict"),
                                       ({1}, "set"), (("ok", _Plain()), "_Plain"),
                                       (frozenset(), "frozenset"), (1j, "complex")])
def test_a_key_without_a_value_encoding_is_refused_naming_its_type_and_the_fix(make_redis_cache, key, kind):
    cache = make_redis_cache()
    with pytest.raises(TypeError, match=rf"got {kind}\b.*key=.*make_key"):
        cache[key] = 1
    with pytest.raises(TypeError, match="make_key"):
        cache.get(key)
    assert len(cache) == 0


def test_an_object_at_a_reused_address_never_reads_a_dead_objects_value(make_redis_cache):
    """Keyed by repr(), a new object at a freed address read the old one's value (49 of 50)."""
    cache = make_redis_cache()

    class User:
        def __init__(self, name):
            self.name = name

    @cached(cache, key=lambda user: ("profile", user.name))
    def profile(user):
        return {"name": user.name}

    assert [profile(User(f"u{i}"))["name"] for i in range(50)] == [f"u{i}" for i in range(50)]
    with pytest.raises(TypeError, match="User"):
        cached(cache)(lambda user: user.name)(User("x"))


def test_keys_and_items_survive_foreign_data_under_the_prefix(make_redis_cache):
    cache = make_redis_cache()
    cache["mine"], cache[("t", 1)] = 1, 2
    raw = cache.client
    raw.set(cache.prefix.encode() + b"\xff\xfe binary", b"x")
    raw.set(cache.prefix + "~not json", b"1")
    raw.set(cache.prefix + "a:b:c", b"\x80 not json")  # a name with the separator, a foreign value
    assert sorted(cache.keys(), key=repr) == sorted(["mine", ("t", 1), "a:b:c"], key=repr)
    assert sorted(cache.items(), key=repr) == sorted([("mine", 1), (("t", 1), 2)], key=repr)
    assert cache.get("a:b:c", "miss") == "miss"


def test_the_default_prefix_shares_no_namespace_with_service_caches(redis_url):
    from cachelab.redis import service_caches

    caches = service_caches(redis_url)
    product = caches("product", 60)
    plain = RedisCache(redis_url, timeout=1.0)
    try:
        product["p1"], plain["k"] = 1, 2
        plain.clear()
        assert product.get("p1") == 1 and len(product) == 1
        assert not product.prefix.startswith(plain.prefix) and not plain.prefix.startswith(product.prefix)
    finally:
        product.clear()
        plain.clear()


def test_pop_and_del(make_redis_cache):
    cache = make_redis_cache()
    cache["k"] = 0
    assert cache.pop("k", "d") == 0 and cache.pop("k", "d") == "d" and "k" not in cache
    cache["k"] = 1
    del cache["k"]
    with pytest.raises(KeyError):
        del cache["k"]


def test_each_key_gets_its_own_ttl_through_set_px(make_redis_cache):
    cache = make_redis_cache(ttl=60)
    cache["default"] = 1
    cache.set("short", 2, ttl=0.5)
    cache.set("forever", 3)
    ttls = {k: _raw(cache).pttl(cache._name(k)) for k in ("default", "short", "forever")}
    assert 59_000 < ttls["default"] <= 60_000 and 0 < ttls["short"] <= 500
    assert ttls["forever"] > 59_000  # the cache's default ttl
    plain = make_redis_cache()
    plain["k"] = 1
    assert _raw(plain).pttl(plain._name("k")) == -1  # no ttl: kept until evicted
    with pytest.raises(ValueError, match="ttl"):
        cache.set("k", 1, ttl=0)


def test_an_expired_key_is_a_miss(make_redis_cache):
    cache = make_redis_cache()
    cache.set("k", 1, ttl=0.001)
    time.sleep(0.02)
    assert cache.get("k", "gone") == "gone"


def test_clear_deletes_its_own_prefix_only(make_redis_cache):
    a, b = make_redis_cache(prefix="app:a:"), make_redis_cache(prefix="app:a*")  # a glob char
    a.set_many({f"k{i}": i for i in range(1200)})
    b["k"] = "b"
    _raw(a).set("app:a", "a bare key, not under the prefix")
    a.clear()
    assert len(a) == 0 and a.cache_info() == CacheInfo(0, 0, None, 0)
    assert b["k"] == "b" and _raw(a).get("app:a") is not None
    _raw(a).delete("app:a")


def test_get_many_is_one_mget_and_counts_each_key(make_redis_cache):
    cache = make_redis_cache()
    cache.set_many({"a": 1, "b": None})

    def mgets():
        return _raw(cache).info("commandstats").get("cmdstat_mget", {}).get("calls", 0)

    before = mgets()
    assert cache.get_many(["a", "b", "c"], "miss") == [1, None, "miss"]
    assert mgets() == before + 1
    assert cache.cache_info().hits == 2 and cache.cache_info().misses == 1


def test_a_value_json_cannot_encode_is_refused_at_set_time_naming_the_fix(make_redis_cache):
    cache = make_redis_cache()
    with pytest.raises(TypeError, match=r"cannot cache 'tags'.*set.*list\(a_set\)"):
        cache["tags"] = {"a", "b"}
    with pytest.raises(TypeError, match="tuples become lists"):
        cache["pair"] = (1, 2)  # would come back as [1, 2]: a hit must equal the miss
    with pytest.raises(TypeError, match="dict keys become str"):
        cache["ids"] = {1: "one"}
    with pytest.raises(TypeError, match="cannot cache"):
        cache.set_many({"ok": 1, "nan": float("nan")})
    assert len(cache) == 0  # nothing half-stored


def test_a_planted_pickle_payload_is_never_unpickled_by_the_json_cache(make_redis_cache, caplog):
    cache = make_redis_cache()
    assert cache.codec is JSON
    payload = planted_payload()  # its only effect, when unpickled, is to raise payload_ran()
    _raw(cache).set(cache._name("product:1"), payload)  # someone with write access plants it
    reset_payload()
    with Store(delay=0) as store:
        store.put("product:1", {"id": 1})
        with caplog.at_level(logging.WARNING, logger="cachelab.redis"):
            assert CacheAside(cache, store.get).read("product:1") == {"id": 1}  # a miss, from the DB
    assert not payload_ran() and "cannot read" in caplog.text
    assert cache["product:1"] == {"id": 1}  # the miss overwrote the payload
    # The same bytes through the pickle codec run the payload: the test above can fail.
    unsafe = make_redis_cache(codec=PICKLE)
    _raw(unsafe).set(unsafe._name("k"), payload)
    assert unsafe.get("k") == {"name": "innocent-looking value"} and payload_ran()
    reset_payload()


def test_cached_memoizes_over_redis_with_tuple_keys(make_redis_cache):
    cache, calls = make_redis_cache(), []

    @cached(cache)
    def square(x):
        calls.append(x)
        return x * x

    assert [square(3), square(3), square(4)] == [9, 9, 16] and calls == [3, 4]
    assert square.cache_info().hits == 1 and square.cache_info().currsize == 2


def test_the_service_runs_over_redis_unchanged(make_redis_cache):
    def factory(kind, ttl):
        return make_redis_cache(prefix=make_redis_cache().prefix + kind + ":", ttl=ttl)

    with ECommerceService(db_delay=0, log=None, clock=FakeClock(), cache=factory) as service:
        reads = service.store.stats().reads
        assert service.get_product(1) == service.get_product(1)
        assert service.store.stats().reads == reads + 1
        service.get_user(101)
        assert service.update_user(101, {"name": "New"}) == 1
        assert service.get_user(101)["name"] == "New"
        service.save_session("s", {"cart": [1]})
        assert service.get_session("s") == {"cart": [1]}
        assert service.get_stats()["hits"] >= 2


# -- bad configuration

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_malformed_url_is_a_clear_error():
    with pytest.raises(ValueError, match=r"url 'http://localhost:6379'.*redis://"):
        RedisCache("http://localhost:6379")
    with pytest.raises(TypeError, match="client must be a redis-py client"):
        RedisCache(object())


def test_a_server_that_refuses_fails_open_logs_once_and_ping_says_what_to_fix(caplog):
    cache = RedisCache(f"redis://127.0.0.1:{_free_port()}/0", clock=FakeClock())
    with caplog.at_level(logging.WARNING, logger="cachelab.redis"):
        for i in range(50):
            cache[f"k{i}"] = i
            assert cache.get(f"k{i}", "db") == "db"
    assert len(caplog.records) == 1 and "unreachable" in caplog.text
    s = cache.stats()
    assert (s.misses, s.skipped_writes, s.errors, s.outages) == (50, 50, 1, 1)
    with pytest.raises(ConnectionError, match="is the server running.*CACHELAB_REDIS_URL"):
        cache.ping()
    assert len(cache.close()) == 50  # still down: every skipped key is logged as left stale


def test_a_password_in_the_config_reaches_the_url_and_a_wrong_one_fails_open(caplog):
    with redis_server(embedded=True, requirepass="s3cret") as server:
        cache = RedisCache(server.url, prefix="p:", timeout=1)
        cache["k"] = 1
        assert cache["k"] == 1 and cache.ping()
        wrong = RedisCache(server.url.replace("s3cret", "wrong"), prefix="p:")
        with caplog.at_level(logging.WARNING, logger="cachelab.redis"):
            assert wrong.get("k", "db") == "db"
        assert "unreachable" in caplog.text and "password" in caplog.text.lower()


# -- failing open when the server goes away, and coming back

def test_stopping_the_server_mid_workload_loses_no_read_or_write(caplog):
    clock = FakeClock()
    ops = read_write_workload(600, 0.8, n_keys=30, seed=3)
    with redis_server(embedded=True) as server, Store(delay=0) as store:
        cache = RedisCache(server.url, prefix="shop:", clock=clock, backoff=1.0, timeout=0.5)
        keys = sorted({key for _, key in ops})
        store.put_many([(key, 0) for key in keys])
        truth = dict.fromkeys(keys, 0)
        aside, through = CacheAside(cache, store.get, store.put), WriteThrough(cache, store.get, store.put)
        hits_at = {}
        with caplog.at_level(logging.WARNING, logger="cachelab.redis"):
            for i, (op, key) in enumerate(ops):
                if i == 200:
                    server.stop()
                if i == 400:
                    server.start()
                    clock.tick(60)  # past the back-off: the next request probes the server
                    hits_at["restart"] = cache.stats().hits
                if op == "read":
                    assert aside.read(key) == truth[key] == store.peek(key)
                else:
                    through.write(key, i)
                    truth[key] = i
                if i == 199:
                    hits_at["stop"] = cache.stats().hits
        assert {key: store.peek(key) for key in keys} == truth  # no database write lost
        s = cache.stats()
        assert s.outages == 1 and s.skipped_writes > 0
        assert hits_at["restart"] == hits_at["stop"]  # no hits while it was down...
        assert s.hits > hits_at["restart"] + 100  # ...and the cache resumed after the restart
        assert [r.message.split(";")[0] for r in caplog.records].count(
            "cachelab.redis: cache 'shop:' reachable again") == 1
        assert sum("unreachable" in r.message for r in caplog.records) == 1  # logged once


def test_a_write_skipped_during_a_blip_does_not_leave_a_stale_copy():
    """The server stayed up (its data too) but was unreachable for one write: drop that key on recovery."""
    clock = FakeClock()
    with redis_server(embedded=True) as server:
        cache = RedisCache(server.url, prefix="blip:", clock=clock, timeout=0.2)
        cache["k"] = "old"
        os.kill(server.pid, signal.SIGSTOP)  # hung, not dead: requests time out after 50 ms
        try:
            cache["k"] = "new"  # times out: skipped
            assert not cache.available and cache.stats().skipped_writes == 1
        finally:
            os.kill(server.pid, signal.SIGCONT)
        assert cache.get("k", "db") == "db"  # still backing off
        clock.tick(1)
        assert cache.get("k", "db") == "db"  # the probe dropped the stale "old"
        assert cache.available


def test_the_breaker_backs_off_exponentially_and_sends_nothing_meanwhile():
    clock = FakeClock()
    cache = RedisCache(f"redis://127.0.0.1:{_free_port()}/0", clock=clock, backoff=0.5,
                       max_backoff=2)
    cache.get("k")
    assert cache.stats().errors == 1
    for step, wait in enumerate([0.5, 1.0, 2.0, 2.0]):
        for _ in range(10):
            cache.get("k")
        assert cache.stats().errors == 1 + step  # nothing sent during the back-off
        clock.tick(wait)
        cache.get("k")  # the probe fails again; the back-off doubles, up to max_backoff


# -- two levels, and two clients sharing one server

def test_two_level_cache_near_far_and_miss(make_redis_cache):
    far = make_redis_cache()
    two = TwoLevelCache(LRUCache(10), far)
    two.set("k", {"v": 1}, ttl=30)
    assert two.get("k") == {"v": 1} and two.stats() == {"near_hits": 1, "far_hits": 0, "misses": 0}
    other = TwoLevelCache(LRUCache(10), far)  # another process: its near cache is empty
    assert other.get("k") == {"v": 1} and other.stats()["far_hits"] == 1
    assert other.pop("k") == {"v": 1} and "k" not in far and other.get("k", "d") == "d"
    assert isinstance(two, ExpiringCache)


def test_two_clients_share_writes_where_two_in_process_caches_drift(redis_url, make_redis_cache):
    shared = make_redis_cache()
    a, b = shared, RedisCache(redis_url, prefix=shared.prefix)  # two clients, one server
    a["price:1"] = 999
    b["price:1"] = 949
    assert a["price:1"] == b["price:1"] == 949
    local_a, local_b = TTLCache(10, ttl=60), TTLCache(10, ttl=60)
    local_a["price:1"] = local_b["price:1"] = 999
    local_b["price:1"] = 949
    assert local_a["price:1"] == 999 != local_b["price:1"]  # a drifted, stale copy


def test_the_demo_runs_over_redis_and_leaves_no_keys(redis_url):
    import subprocess
    import sys

    import redis

    env = {**os.environ, "CACHELAB_REDIS_URL": redis_url}
    out = subprocess.run([sys.executable, "-m", "cachelab", "--cache", "redis", "--quiet",
                          "--db-delay", "0"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Caches in Redis: " in out.stdout and "Cache Hit Rate: " in out.stdout
    with redis.Redis.from_url(redis_url) as client:
        assert not list(client.scan_iter(match="cachelab-demo:*"))


def test_a_write_a_full_server_refuses_drops_the_old_copy():
    """Under maxmemory-policy noeviction a full server refuses writes: the stale value must not stay."""
    with redis_server(embedded=True, maxmemory="2mb", **{"maxmemory-policy": "noeviction"}) as server:
        cache = RedisCache(server.url, prefix="full:", timeout=1)
        cache["price:1"] = 999
        filler = RedisCache(server.url, prefix="filler:", timeout=1)
        for i in range(200):
            filler[f"{i}"] = "x" * 20_000
            if filler.stats().skipped_writes:
                break
        assert filler.stats().skipped_writes == 1 and cache.available  # refused, not down
        cache["price:1"] = 949  # refused too
        assert cache.stats().skipped_writes == 1
        assert cache.get("price:1", "db") == "db"  # not the stale 999


def test_two_level_cache_serves_a_value_its_size_bounded_near_cache_refuses(make_redis_cache):
    far = make_redis_cache()
    two = TwoLevelCache(LRUCache(10, getsizeof=len), far)
    far["big"] = "x" * 50  # too large for near (maxsize 10)
    assert two.get("big") == "x" * 50 and "big" not in two.near
    two.set("k", "short")
    assert two.near["k"] == "short"
    two.set("k", "y" * 50)  # near refuses the new value: its old copy must go, not stay stale
    assert "k" not in two.near and two.get("k") == "y" * 50


@pytest.mark.parametrize("ttl", [math.inf, 1e17, RedisCache.MAX_TTL * 2])
def test_a_ttl_redis_cannot_store_is_refused_at_the_call_naming_the_largest(make_redis_cache, ttl):
    with pytest.raises(ValueError, match=r"ttl must be at most 1e\+15 seconds"):
        make_redis_cache(ttl=ttl)
    cache = make_redis_cache()
    with pytest.raises(ValueError, match=r"ttl must be at most 1e\+15 seconds"):
        cache.set("k", 1, ttl=ttl)
    with pytest.raises(ValueError, match="ttl must be at most"):
        cache.set_many({"k": 1}, ttl=ttl)
    cache.set("k", 1, ttl=RedisCache.MAX_TTL)  # the largest is accepted, and Redis stores it
    assert cache.get("k") == 1 and cache.stats().errors == 0


def test_a_value_nested_too_deep_raises_the_codecs_type_error(make_redis_cache):
    deep = []
    for _ in range(100_000):
        deep = [deep]
    cache = make_redis_cache()
    with pytest.raises(TypeError, match="cannot cache 'k': .*nested too deep"):
        cache["k"] = deep
    with pytest.raises(TypeError, match="nested too deep"):
        make_redis_cache(codec=PICKLE)["k"] = deep
    cache.client.set(cache.name_of("planted"), b"[" * 100_000 + b"]" * 100_000)
    assert cache.get("planted", "miss") == "miss"  # too deep to read back is a miss


def test_service_caches_refuse_a_kind_without_a_ttl(redis_url):
    from cachelab.redis import service_caches

    with pytest.raises(TypeError, match="ttl for 'product' must be a number of seconds"):
        service_caches(redis_url)("product", None)
