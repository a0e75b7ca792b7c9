"""Security pitfalls, fixed: key isolation, poisoned keys, pickle payloads, field policy, auth."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from cachelab import LRUCache, cached
from cachelab.lab.checklist import assess
from cachelab.keys import forget_user, make_key, normalise, user_prefix
from cachelab.security import USER_POLICY, FieldPolicy, payload_ran, planted_payload, reset_payload
from cachelab.lab.workloads import read_write_workload, uniform, zipf

USERS = {101: {"name": "John Doe", "email": "john@example.com"},
         102: {"name": "Jane Smith", "email": "jane@example.com"}}


def page(path, user_id):
    return {"path": path, "email": USERS[user_id]["email"]}


def test_a_key_without_the_user_leaks_and_the_fix_does_not():
    leaky = cached(LRUCache(10), key=lambda path, user_id: path)(page)
    leaky("/account", 101)
    assert leaky("/account", 102)["email"] == "john@example.com"  # the leak, made to happen

    safe = cached(LRUCache(10), key=lambda path, user_id: make_key("page", path, user=user_id))(page)
    assert safe("/account", 101)["email"] == "john@example.com"
    assert safe("/account", 102)["email"] == "jane@example.com"
    assert safe("/account", 101)["email"] == "john@example.com"
    assert safe.cache_info().hits == 1


def test_make_key_keeps_part_boundaries_and_hashes_to_a_fixed_length():
    naive = lambda lang, query: f"search:{lang}:{query}"  # noqa: E731
    assert naive("en:shoes", "red") == naive("en", "shoes:red")  # the collision
    assert make_key("search", "en:shoes", "red") != make_key("search", "en", "shoes:red")
    assert len(make_key("search", "x" * 1_000_000)) == len(make_key("search", "x"))
    assert make_key("search", "a", user=1) != make_key("search", "a", user=2)
    assert make_key("search", "a", user=1) != make_key("search", "a")


def test_make_key_normalises_what_means_the_same_only_when_asked():
    variants = ["Red Shoes", "red shoes", "  RED\tshoes ", "ｒｅｄ shoes"]
    assert {normalise(v) for v in variants} == {"red shoes"}
    assert len({make_key("search", normalise(v)) for v in variants}) == 1  # asked for, part by part
    assert len({make_key("search", v) for v in variants}) == len(variants)  # not asked: kept apart
    assert make_key("file", "/Reports/Q1.pdf") != make_key("file", "/reports/q1.pdf")
    assert make_key("s", "en", normalise("Shoes ")) == make_key("s", "en", "shoes")
    assert make_key("s", q="a", page=2) == make_key("s", page=2, q="a")
    assert make_key("s", q="a", page=2) != make_key("s", q="a", page=3)


@pytest.mark.parametrize("a, b", [
    (b"a", "b'a'"), (Decimal("1.0"), "1.0"), (1, "1"), (1, True), (1, 1.0), (None, "None"),
    ((1, 2), [1, 2]), ([1, 2], "[1, 2]"), ({"a": 1}, [["a", 1]]), (date(2024, 1, 2), "2024-01-02"),
    (datetime(2024, 1, 2), date(2024, 1, 2)), ("ｒ", "r"), ("A", "a"), ("a  b", "a b"), (1.5, "1.5"),
])
def test_make_key_is_injective_across_types_and_spellings(a, b):
    """Different inputs never share a key: the encoding carries each value's type and exact text."""
    assert make_key("k", a) != make_key("k", b)
    assert make_key("k", q=a) != make_key("k", q=b)
    assert make_key("k", a) == make_key("k", a)


@pytest.mark.parametrize("bad", [object(), {1, 2}, complex(1, 2), [1, object()], {"a": frozenset()}])
def test_make_key_refuses_a_type_it_cannot_encode_and_says_what_to_do(bad):
    with pytest.raises(TypeError, match=r"make_key can't encode part 1.*pass a str"):
        make_key("k", "ok", bad)
    with pytest.raises(TypeError, match=r"param q"):
        make_key("k", q=bad)


@pytest.mark.parametrize("bad", ["a:b", "*", "", "x" * 65, True, "a b"])
def test_namespaces_and_user_ids_cannot_break_out_of_their_prefix(bad):
    with pytest.raises(ValueError):
        make_key(bad, "x")
    with pytest.raises(ValueError):
        user_prefix("page", bad)


def test_forget_user_drops_only_that_users_entries():
    cache = {make_key("page", p, user=u): p for p in ("/a", "/b") for u in (101, 102)}
    cache["other"] = 1
    assert forget_user(cache, "page", 101) == 2
    assert all(not k.startswith(user_prefix("page", 101)) for k in cache)
    assert len(cache) == 3


def test_the_planted_payload_runs_when_unpickled():
    import pickle

    reset_payload()
    pickle.loads(planted_payload())
    assert payload_ran()
    reset_payload()
    assert not payload_ran()


def test_field_policy_denies_by_default():
    record = {"id": 1, "name": "n", "password_hash": "h", "session_token": "t", "favourite": "x"}
    kept, dropped = USER_POLICY.split(record)
    assert kept == {"id": 1, "name": "n"}
    assert dropped == ["favourite", "password_hash", "session_token"]
    with pytest.raises(ValueError, match="both"):
        FieldPolicy(cache={"a": ""}, never={"a": ""})


def test_checklist_verdicts():
    catalog = assess("catalog", read_write_workload(5000, 0.95, n_keys=200, seed=1),
                     miss_ms=50, staleness_s=60, budget_keys=100)
    critical = assess("permissions", read_write_workload(5000, 0.95, n_keys=200, seed=1),
                      miss_ms=50, staleness_s=0, budget_keys=100)
    search = assess("search", [("read", k) for k in uniform(5000, 10**6, seed=3).tolist()],
                    miss_ms=100, staleness_s=60, budget_keys=100)
    cheap = assess("cheap", read_write_workload(5000, 0.95, n_keys=200, seed=1),
                   miss_ms=0.5, staleness_s=60, budget_keys=100)
    assert catalog.verdict.startswith("cache-aside with a TTL")
    assert critical.verdict.startswith("cache, with invalidation")
    assert search.verdict == "don't cache" and "hit ratio" in search.reasons
    # A popular head: a modest hit ratio on an expensive query is worth a cache.
    head = assess("search", [("read", k) for k in zipf(5000, 10**6, 0.9, seed=3).tolist()],
                  miss_ms=100, staleness_s=60, budget_keys=1000)
    assert 0.05 < head.hit_ratio < 0.5 and head.verdict.startswith("cache-aside")
    assert cheap.verdict == "don't cache" and "a miss costs" in cheap.reasons
    assert catalog.reads_per_write > 10 and catalog.hit_ratio > 0.5


# -- on a real Valkey server


@pytest.fixture(scope="module")
def server():
    from cachelab.redis import redis_server

    with redis_server(embedded=True, requirepass="correct horse") as running:
        yield running


def _client(port, **options):
    """A client that does not retry: redis-py retries a refused login for seconds by default."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(port=port, retry=Retry(NoBackoff(), 0), **options)


def test_an_unauthenticated_client_is_refused(server):
    import redis

    with pytest.raises(redis.exceptions.AuthenticationError, match="Authentication required"):
        _client(server.port, protocol=2).get("anything")
    with pytest.raises(redis.exceptions.AuthenticationError):
        _client(server.port, password="wrong").ping()
    assert server.client().ping()


def test_an_acl_user_is_held_to_its_namespace(server):
    import redis

    admin = server.client()
    admin.acl_setuser("shop", enabled=True, passwords=["+shop-secret"], keys=["shop:*"],
                      commands=["+get", "+set", "+del", "+unlink", "+scan", "+ping"])
    shop = _client(server.port, username="shop", password="shop-secret")
    assert shop.set("shop:product:1", "x") and shop.get("shop:product:1") == b"x"
    with pytest.raises(redis.exceptions.NoPermissionError):
        shop.get("admin:settings")
    with pytest.raises(redis.exceptions.NoPermissionError):
        shop.flushall()


def test_the_json_codec_refuses_a_planted_pickle(server):
    from cachelab.redis import JSON, PICKLE, RedisCache

    server.client().set("shop:profile:101", planted_payload())
    reset_payload()
    assert RedisCache(server.client(), prefix="shop:", codec=JSON).get("profile:101", "miss") == "miss"
    assert not payload_ran()
    RedisCache(server.client(), prefix="shop:", codec=PICKLE).get("profile:101")
    assert payload_ran()
    reset_payload()


def test_forget_user_on_redis_with_a_client_and_a_cache(server):
    from cachelab.redis import RedisCache

    cache = RedisCache(server.client(), prefix="app:")
    for user in (101, 102):
        for path in ("/a", "/b", "/c"):
            cache[make_key("page", path, user=user)] = {"path": path}
    assert forget_user(cache, "page", 101) == 3
    assert len(list(cache)) == 3
    client = server.client()
    client.set(make_key("page", "/x", user=7), "1")
    assert forget_user(client, "page", 7) == 1
    assert forget_user(client, "page", 7) == 0
