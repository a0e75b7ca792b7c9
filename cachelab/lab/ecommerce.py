"""The guide's e-commerce platform: four caching patterns over one SQLite database.

* product catalog, users and orders: cache-aside (read-heavy, occasional updates);
* user sessions: write-through (consistency matters);
* analytics events: write-behind (high volume, eventual consistency is fine);
* price updates: write-around (frequent writes, infrequent reads).

Pass a `FakeClock` as `clock=` to run in simulated time: database delays
advance the clock instead of sleeping, and every run prints the same thing.
"""

import collections
import functools
import time

from .._checks import check_callable, check_choice, check_int, check_seconds
from ..caches import MISSING, CacheLike, TTLCache
from ..patterns import WriteAround, WriteBehind, WriteThrough, cache_aside, invalidate
from .store import MAX_DELAY, NotFoundError, Store

__all__ = [
    "ECommerceService",
    "SCENARIOS",
    "Scenario",
    "calculate_shipping_cost",
    "make_shipping_calculator",
    "run_performance_test",
    "run_scenario",
    "run_write_patterns",
]

_EVENT_QUEUE = 1000  # analytics events waiting for the database, at most

_SHIPPING_MULTIPLIER = {"standard": 1.0, "express": 2.0, "overnight": 3.5}


def _quiet(*args, **kwargs):
    """A log function that says nothing."""


class _SkippableClock:
    """Real monotonic time, plus any time skipped with tick() (the demo's 'wait 5 s')."""

    def __init__(self):
        self.skipped = 0.0

    def __call__(self):
        return time.monotonic() + self.skipped

    def tick(self, seconds):
        self.skipped += seconds


class _Announced:
    """A cache that reports each use the way the guide's listing prints it."""

    def __init__(self, cache, ttl, log):
        self.cache, self.ttl, self.log = cache, ttl, log

    def get(self, key, default=None):
        value = self.cache.get(key, MISSING)
        self.log(f" Cache {'MISS' if value is MISSING else 'HIT'}: {key}")
        return default if value is MISSING else value

    def __setitem__(self, key, value):
        self.cache[key] = value
        self.log(f" Cache SET: {key} (TTL: {self.ttl:g}s)")

    def pop(self, key, default=None):
        value = self.cache.pop(key, MISSING)
        if value is MISSING:
            return default
        self.log(f" Cache DELETE: {key}")
        return value


def make_shipping_calculator(*, sleep=time.sleep, log=print, maxsize=100):
    """Return the guide's slow shipping calculation, memoized with functools.lru_cache."""
    log = log or _quiet

    @functools.lru_cache(maxsize=maxsize)
    def calculate_shipping_cost(weight, distance, shipping_type):
        """Expensive shipping calculation with LRU cache."""
        if shipping_type not in _SHIPPING_MULTIPLIER:
            raise ValueError(f"shipping_type must be one of {sorted(_SHIPPING_MULTIPLIER)}, "
                             f"got {shipping_type!r}")
        if weight < 0 or distance < 0:
            raise ValueError(f"weight and distance must be >= 0, got {weight!r} and {distance!r}")
        log(f" Computing shipping cost (weight={weight}, distance={distance}, type={shipping_type})")
        sleep(0.05)  # simulate a complex calculation
        cost = weight * 0.5 + distance * 0.01 * _SHIPPING_MULTIPLIER[shipping_type]
        return round(cost, 2)

    return calculate_shipping_cost


calculate_shipping_cost = make_shipping_calculator()


class ECommerceService:
    """The guide's e-commerce service, each kind of data cached with its own pattern and TTL.

    `cache` chooses the cache behind every kind of data: a factory
    `cache(kind, ttl) -> CacheLike`, called once per kind ("product",
    "user", "orders", "session", "price", "event").  By default each kind
    gets an in-process `TTLCache(maxsize, ttl)` on the service's clock; a
    Redis-backed cache under a per-kind prefix works the same way.
    """

    def __init__(self, db_delay=0.1, cache_ttl=60, *, clock=None, log=print, seed=0,
                 maxsize=1000, events_batch=10, cache=None):
        self.db_delay = float(check_seconds("db_delay", db_delay))
        if self.db_delay > MAX_DELAY - 1:  # the orders query waits db_delay + 0.1 s
            raise ValueError(f"db_delay must be at most {MAX_DELAY - 1:.4g} s, the longest "
                             f"time.sleep() takes, got {db_delay!r}")
        self.cache_ttl = check_seconds("cache_ttl", cache_ttl, positive=True)
        check_int("maxsize", maxsize, 1)
        check_int("events_batch", events_batch, 1)
        if events_batch > _EVENT_QUEUE:
            raise ValueError(f"events_batch must be at most {_EVENT_QUEUE} (the events queue's size), "
                             f"got {events_batch!r}")
        if clock is None:
            self.clock, sleep, self.timer = _SkippableClock(), time.sleep, time.perf_counter
        elif callable(getattr(clock, "tick", None)):
            self.clock, sleep, self.timer = clock, clock.tick, clock
        else:
            raise TypeError(f"clock must be a FakeClock (or anything with tick()), got {clock!r}")
        self.log = log or _quiet
        self.store = Store(delay=self.db_delay, sleep=sleep, seed=seed)
        # Per-kind TTLs as in the guide: user data and orders change more often.
        ttls = {"product": cache_ttl, "user": max(30, cache_ttl - 30),
                "orders": max(20, cache_ttl - 40), "session": cache_ttl,
                "price": cache_ttl, "event": cache_ttl}
        if cache is None:
            def cache(kind, ttl):
                return TTLCache(maxsize, ttl, timer=self.clock)
        check_callable("cache", cache, "lambda kind, ttl: TTLCache(1000, ttl)")
        self.caches = {kind: cache(kind, ttl) for kind, ttl in ttls.items()}
        for kind, made in self.caches.items():
            if not isinstance(made, CacheLike):
                raise TypeError(f"cache({kind!r}, ttl) must return a cache with get(), "
                                f"[key] = value and pop(), got {made!r}")
        self._views = {kind: _Announced(self.caches[kind], ttl, self.log) for kind, ttl in ttls.items()}
        self.sessions = WriteThrough(self._views["session"], self._load_session, self._save_session)
        self.prices = WriteAround(self._views["price"], self._load_price, self._save_price)
        # Events are too many to announce one by one; only their batches are logged.
        self.events = WriteBehind(self.caches["event"], self._no_load, self._save_events,
                                  maxsize=_EVENT_QUEUE, batch_size=events_batch,
                                  background=clock is None, clock=self.clock, sleep=sleep,
                                  check=lambda key, event: self.store.check_event(event))
        self.shipping = make_shipping_calculator(sleep=sleep, log=self.log)
        self._event_ids = 0

    # -- cache-aside reads

    def get_product(self, product_id):
        """Get a product (cache-aside)."""
        return self._aside("product", f"product:{product_id}", f"product {product_id}",
                           self.store.get_product, product_id, self.db_delay)

    def get_user(self, user_id):
        """Get a user (cache-aside, shorter TTL)."""
        return self._aside("user", f"user:{user_id}", f"user {user_id}",
                           self.store.get_user, user_id, self.db_delay + 0.05)

    def get_user_orders(self, user_id):
        """Get a user's orders, an expensive query (cache-aside, shortest TTL)."""
        return self._aside("orders", f"user_orders:{user_id}", f"orders for user {user_id}",
                           self.store.get_user_orders, user_id, self.db_delay + 0.1)

    def _aside(self, kind, key, what, query, ident, delay):
        def load(_key):
            self.log(f" DB Query: Fetching {what}...")
            return query(ident, delay=delay)
        return cache_aside(self._views[kind], key, load)

    # -- invalidation

    def update_user(self, user_id, user_data):
        """Update the user in the database, then drop user:{id} and user_orders:{id}."""
        self.log(f" Updating user {user_id} in database...")
        self.store.update_user(user_id, user_data)
        dropped = (invalidate(self._views["user"], f"user:{user_id}")
                   + invalidate(self._views["orders"], f"user_orders:{user_id}"))
        self.log(f" Invalidated {dropped} cache entries")
        return dropped

    # -- sessions: write-through

    def save_session(self, session_id, data):
        """Store a session in the database and the cache before returning."""
        self.sessions.write(f"session:{session_id}", data)

    def get_session(self, session_id):
        """Return a session, from the cache when it is there."""
        return self.sessions.read(f"session:{session_id}")

    def _save_session(self, key, data):
        self.log(f" DB Write: session {key.partition(':')[2]}")
        self.store.save_session(key.partition(":")[2], data)

    def _load_session(self, key):
        self.log(f" DB Query: Fetching session {key.partition(':')[2]}...")
        return self.store.get_session(key.partition(":")[2])

    # -- prices: write-around

    def update_price(self, product_id, price):
        """Write a price to the database; drop the cached price and product."""
        self.log(f" Updating price of product {product_id} in database...")
        self.prices.write(f"price:{product_id}", price)
        invalidate(self._views["product"], f"product:{product_id}")  # it embeds the price

    def get_price(self, product_id):
        """Return a product's price (cache-aside)."""
        return self.prices.read(f"price:{product_id}")

    def _save_price(self, key, price):
        self.store.set_price(int(key.partition(":")[2]), price)

    def _load_price(self, key):
        self.log(f" DB Query: Fetching price of product {key.partition(':')[2]}...")
        return self.store.get_price(int(key.partition(":")[2]))

    # -- analytics: write-behind

    def track_event(self, user_id, kind, **data):
        """Record an analytics event; it reaches the database later, in a batch."""
        # An event the database can't store (a datetime, say) is refused here, before it is queued.
        self.events.write(f"event:{self._event_ids + 1}", {"user_id": user_id, "kind": kind, **data})
        self._event_ids += 1

    def _save_events(self, batch):
        self.log(f" DB Write: {len(batch)} analytics events in one batch")
        self.store.add_events([event for _, event in batch])

    @staticmethod
    def _no_load(key):
        raise NotFoundError(f"{key} is not cached; analytics events are read from the database")

    # -- time, statistics and lifetime

    def wait(self, seconds):
        """Let `seconds` pass for the caches' TTLs without really sleeping."""
        self.clock.tick(seconds)

    def get_stats(self):
        """Return the guide's statistics over all the caches: hits, misses, hit_rate, total_keys."""
        infos = [cache.cache_info() for cache in self.caches.values() if hasattr(cache, "cache_info")]
        hits, misses = sum(i.hits for i in infos), sum(i.misses for i in infos)
        total = hits + misses
        return {"hits": hits, "misses": misses,
                "hit_rate": f"{hits / total * 100 if total else 0:.1f}",
                "total_keys": sum(i.currsize for i in infos)}

    def close(self):
        """Flush the queued analytics events and close the database."""
        try:
            if not self.store.closed:
                self.events.close()
        finally:
            self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (f"ECommerceService(db_delay={self.db_delay!r}, cache_ttl={self.cache_ttl!r}, "
                f"stats={self.get_stats()!r})")


# -- the guide's performance test and scenarios

def _time(timer, func):
    start = timer()
    result = func()
    return result, timer() - start


def _speedup(miss, hit):
    return miss / hit if hit > 0 else float("inf")


def _report(out, miss, hit, speedup, miss_label="Cache MISS time"):
    out(f"{miss_label}: {miss * 1000:.1f}ms")
    out(f"Cache HIT time: {hit * 1000:.3f}ms")
    out(f"Speedup: {speedup:.1f}x faster" if speedup != float("inf")
        else "Speedup: no measurable hit time (simulated clock)")


def run_performance_test(product_id=1, user_id=101, db_delay=0.1, cache_ttl=60, *,
                         wait=0, clock=None, verbose=True, out=print, cache=None):
    """Time a miss and a hit for each cached lookup; return (results, stats) as the guide does.

    `wait` > 0 then lets that many seconds pass (without sleeping) and looks
    the product up again, to show a TTL running out.  `verbose=False` hides
    the per-operation HIT/MISS/DB lines; `out` prints the report.  `cache`
    is the service's cache factory (e.g. Redis-backed caches).
    """
    out = out or _quiet
    out("\n" + "=" * 60)
    out(" E-COMMERCE CACHING PERFORMANCE TEST")
    out("=" * 60)
    with ECommerceService(db_delay, cache_ttl, clock=clock, log=out if verbose else None,
                          cache=cache) as service:
        test_cases = [
            ("Product Lookups", lambda: service.get_product(product_id)),
            ("User Lookups", lambda: service.get_user(user_id)),
            ("User Orders", lambda: service.get_user_orders(user_id)),
        ]
        results = []
        for test_name, test_func in test_cases:
            out(f"\n Testing: {test_name}")
            out("-" * 40)
            reads = service.store.stats().reads
            _, miss_time = _time(service.timer, test_func)  # first call: cache miss
            _, hit_time = _time(service.timer, test_func)   # second call: cache hit
            speedup = _speedup(miss_time, hit_time)
            _report(out, miss_time, hit_time, speedup)
            results.append({"test": test_name, "miss_time": miss_time, "hit_time": hit_time,
                            "speedup": speedup, "db_reads": service.store.stats().reads - reads})

        out("\n Testing: LRU Cache (Shipping Calculations)")
        out("-" * 40)
        cost, miss_time = _time(service.timer, lambda: service.shipping(2.5, 100, "express"))
        _, hit_time = _time(service.timer, lambda: service.shipping(2.5, 100, "express"))
        _report(out, miss_time, hit_time, _speedup(miss_time, hit_time),
                miss_label=f"First calculation (result: ${cost})")

        if wait:
            out(f"\n Testing: TTL Expiry (after {wait:g}s)")
            out("-" * 40)
            service.wait(wait)
            _, again = _time(service.timer, lambda: service.get_product(product_id))
            out(f"Product lookup after the wait: {again * 1000:.1f}ms")

        out("\n Testing: Cache Invalidation")
        out("-" * 40)
        service.update_user(user_id, {"name": "John Updated"})
        reads = service.store.stats().reads
        service.get_user(user_id)
        out(f"Next user lookup read the database {service.store.stats().reads - reads} time(s)")

        out("\n Final Cache Statistics:")
        out("-" * 40)
        stats = service.get_stats()
        for key, value in stats.items():
            out(f"{key.replace('_', ' ').title()}: {value}")
        out(f"LRU Cache Info: {service.shipping.cache_info()}")
        db = service.store.stats()
        out(f"Database: {db.reads} reads, {db.writes} writes")
    return results, stats


Scenario = collections.namedtuple("Scenario", "title product_id user_id db_delay cache_ttl wait")
Scenario.__doc__ = "One of the guide's runs of run_performance_test()."

SCENARIOS = {
    "normal": Scenario("Scenario 1: Normal E-commerce Operations", 1, 101, 0.1, 60, 0),
    "slow-db": Scenario("Scenario 2: Slow Database (300ms delays)", 2, 102, 0.3, 60, 0),
    "short-ttl": Scenario("Scenario 3: Short TTL (5 seconds)", 3, 103, 0.1, 5, 5),
    "custom": Scenario("Custom Test Example: 200ms database, 2 minute TTL", 5, 103, 0.2, 120, 0),
}


def run_scenario(name, *, db_delay=None, cache_ttl=None, clock=None, verbose=True, out=print,
                 cache=None):
    """Run one of SCENARIOS, optionally with another delay or TTL; return (results, stats)."""
    s = SCENARIOS[check_choice("scenario", name, SCENARIOS)]
    out = out or _quiet
    out(f"\n {s.title}")
    return run_performance_test(
        s.product_id, s.user_id,
        s.db_delay if db_delay is None else db_delay,
        s.cache_ttl if cache_ttl is None else cache_ttl,
        wait=s.wait, clock=clock, verbose=verbose, out=out, cache=cache)


def _outcome(store, reads_before):
    """How the last read went, measured: a HIT read nothing from the database."""
    reads = store.stats().reads - reads_before
    return "HIT (no database read)" if reads == 0 else f"MISS ({reads} database read{'s' * (reads > 1)})"


def run_write_patterns(db_delay=0.1, cache_ttl=60, *, events=25, crash_after=None,
                       clock=None, verbose=True, out=print, cache=None):
    """Show the three write patterns; return the database's StoreStats and the writes a crash lost."""
    out = out or _quiet
    out("\n Testing: Write Patterns")
    out("-" * 40)
    with ECommerceService(db_delay, cache_ttl, clock=clock, log=out if verbose else None,
                          cache=cache) as service:
        service.save_session("abc123", {"user_id": 101, "cart": [1, 3]})
        reads = service.store.stats().reads
        service.get_session("abc123")
        out(f"Session (write-through): saved to the database and the cache; the read was a "
            f"{_outcome(service.store, reads)}")
        service.update_price(1, 949)
        reads = service.store.stats().reads
        service.get_price(1)
        out(f"Price (write-around): the update skipped the cache; the next read was a "
            f"{_outcome(service.store, reads)}")
        before = service.store.stats().writes
        _, took = _time(service.timer, lambda: [service.track_event(101, "view", product_id=1 + i % 5)
                                                for i in range(events)])
        out(f"Analytics (write-behind): {events} events accepted in {took * 1000:.1f}ms")
        service.events.flush()
        lost = []
        if crash_after:
            for _ in range(crash_after):
                service.track_event(102, "click", product_id=2)
            lost = service.events.crash()
            out(f"Simulated crash: {len(lost)} analytics events never reached the database")
        writes = service.store.stats().writes - before
        accepted = events + (crash_after or 0)
        out(f"{service.store.count_events()} of {accepted} accepted events stored in {writes} database "
            f"writes, {len(lost)} lost (write-through: {accepted} writes, none lost)")
        db = service.store.stats()
    return db, lost
