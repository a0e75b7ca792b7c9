"""The guide's e-commerce service, run in simulated time so nothing sleeps."""

import pytest

import cachelab

from cachelab import FakeClock
from cachelab.lab.ecommerce import (
    SCENARIOS, ECommerceService, make_shipping_calculator, run_performance_test, run_scenario,
    run_write_patterns,
)
from cachelab.lab.measure import compare_patterns
from cachelab.patterns import ClosedError
from cachelab.lab.workloads import read_write_workload
from cachelab.lab.store import NotFoundError


@pytest.fixture
def shop():
    lines = []
    with ECommerceService(0.1, 60, clock=FakeClock(), log=lines.append) as service:
        service.lines = lines
        yield service


def test_product_catalog_is_cache_aside(shop):
    first = shop.get_product(1)
    assert [shop.get_product(1) for _ in range(5)] == [first] * 5
    assert shop.store.stats().reads == 1
    assert shop.lines[:4] == [" Cache MISS: product:1", " DB Query: Fetching product 1...",
                              " Cache SET: product:1 (TTL: 60s)", " Cache HIT: product:1"]


def test_per_kind_ttls_follow_the_guide(shop):
    ttls = {kind: cache.ttl for kind, cache in shop.caches.items()}
    assert ttls["product"] == 60 and ttls["user"] == 30 and ttls["orders"] == 20
    short = ECommerceService(0.1, 5, clock=FakeClock(), log=None)
    assert (short.caches["user"].ttl, short.caches["orders"].ttl) == (30, 20)


def test_miss_costs_the_database_delay_and_a_hit_costs_nothing(shop):
    clock = shop.clock
    shop.get_user_orders(101)
    assert clock() == pytest.approx(0.2)  # db_delay + 0.1 for the expensive query
    shop.get_user_orders(101)
    assert clock() == pytest.approx(0.2)


def test_products_expire_after_the_ttl(shop):
    shop.get_product(1)
    shop.wait(59)
    shop.get_product(1)
    shop.wait(1)
    shop.get_product(1)
    assert shop.store.stats().reads == 2


def test_update_user_invalidates_and_the_next_read_goes_to_the_database(shop):
    shop.get_user(101)
    shop.get_user_orders(101)
    assert shop.update_user(101, {"name": "John Updated"}) == 2
    reads = shop.store.stats().reads
    assert shop.get_user(101)["name"] == "John Updated"
    assert shop.store.stats().reads == reads + 1


def test_sessions_are_write_through(shop):
    shop.save_session("s1", {"user_id": 101, "cart": []})
    assert shop.get_session("s1") == {"user_id": 101, "cart": []}
    assert shop.store.stats().reads == 0 and shop.store.get_session("s1")["cart"] == []


def test_price_updates_are_write_around_and_drop_the_product(shop):
    shop.get_product(1)
    shop.get_price(1)
    shop.update_price(1, 949)
    assert "price:1" not in shop.caches["price"] and "product:1" not in shop.caches["product"]
    assert shop.get_price(1) == 949 and shop.get_product(1)["price"] == 949


def test_analytics_events_are_write_behind_and_flushed_on_close():
    service = ECommerceService(0.1, 60, clock=FakeClock(), log=None, events_batch=10)
    for i in range(25):
        service.track_event(101, "view", product_id=i % 5 + 1)
    assert service.store.stats().writes == 0  # nothing has reached the database yet
    store = service.store
    service.events.close()
    assert store.count_events() == 25 and store.stats().writes == 3
    with pytest.raises(ClosedError):
        service.track_event(101, "view")
    service.close()


def test_unknown_product_is_a_clear_error_and_caches_nothing(shop):
    with pytest.raises(NotFoundError, match="no product with id 99"):
        shop.get_product(99)
    assert "product:99" not in shop.caches["product"]


@pytest.mark.parametrize("kwargs, match", [
    ({"db_delay": -0.1}, "db_delay"), ({"cache_ttl": 0}, "cache_ttl"), ({"clock": 5}, "clock"),
])
def test_bad_arguments_name_the_parameter(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ECommerceService(**kwargs, log=None)


def test_shipping_cost_is_memoized_with_lru_cache():
    sleeps = []
    calc = make_shipping_calculator(sleep=sleeps.append, log=None)
    assert calc(2.5, 100, "express") == calc(2.5, 100, "express") == 3.25
    assert sleeps == [0.05]
    assert calc.cache_info()[:2] == (1, 1)
    with pytest.raises(ValueError, match="shipping_type"):
        calc(1, 1, "teleport")


def test_performance_test_reports_the_guides_results():
    out = []
    results, stats = run_performance_test(2, 102, 0.3, 60, clock=FakeClock(), out=out.append)
    assert [r["test"] for r in results] == ["Product Lookups", "User Lookups", "User Orders"]
    assert [round(r["miss_time"], 3) for r in results] == [0.3, 0.35, 0.4]
    assert all(r["hit_time"] == 0 and r["db_reads"] == 1 for r in results)
    assert stats == {"hits": 3, "misses": 4, "hit_rate": "42.9", "total_keys": 2}
    text = "\n".join(out)
    for line in [" Cache MISS: product:2", " DB Query: Fetching orders for user 102...",
                 "Cache MISS time: 300.0ms", " Invalidated 2 cache entries", "Hit Rate: 42.9",
                 "LRU Cache Info: CacheInfo(hits=1, misses=1, maxsize=100, currsize=1)"]:
        assert line in text


def test_short_ttl_scenario_shows_the_product_expiring():
    out = []
    run_scenario("short-ttl", clock=FakeClock(), out=out.append)
    after = out[out.index("\n Testing: TTL Expiry (after 5s)") + 2:][:2]
    assert after == [" Cache MISS: product:3", " DB Query: Fetching product 3..."]
    assert set(SCENARIOS) == {"normal", "slow-db", "short-ttl", "custom"}


def test_quiet_run_hides_the_operation_lines():
    out = []
    run_scenario("normal", clock=FakeClock(), verbose=False, out=out.append)
    assert not any("Cache HIT" in line and ":" in line.split("Cache HIT")[1][:2] for line in out)
    assert "Cache MISS time: 100.0ms" in out


def test_write_patterns_report_exactly_the_crash_loss():
    out = []
    db, lost = run_write_patterns(clock=FakeClock(), events=25, crash_after=4, out=out.append)
    assert len(lost) == 4 and all(event["kind"] == "click" for _, event in lost)
    assert "Simulated crash: 4 analytics events never reached the database" in out
    assert "25 of 29 accepted events stored in 3 database writes, 4 lost (write-through: 29 writes, none lost)" in out
    assert any(line.endswith("the read was a HIT (no database read)") for line in out)
    assert any(line.endswith("the next read was a MISS (1 database read)") for line in out)


def test_measured_patterns_agree_with_the_guide():
    write_heavy = {r.pattern: r for r in compare_patterns(read_write_workload(600, 0.2, seed=1))}
    read_heavy = {r.pattern: r for r in compare_patterns(read_write_workload(600, 0.9, seed=1))}
    behind = write_heavy["write-behind"]
    assert behind.write_ms == 0 and behind.db_writes < write_heavy["write-through"].db_writes / 3
    assert read_heavy["TTL only"].read_ms < read_heavy["no cache"].read_ms / 2
    assert read_heavy["TTL only"].stale_reads > 0
    assert all(read_heavy[p].stale_reads == 0 for p in ("write-through", "cache-aside", "write-behind"))
    # Writes nobody reads: write-through caches them and loses the hot keys; cache-aside's delete does not.
    cold = {r.pattern: r for r in compare_patterns(read_write_workload(600, 0.2, seed=1, cold_writes=True))}
    assert cold["write-through"].db_reads > cold["cache-aside"].db_reads == cold["TTL only"].db_reads
    assert all(r.lost_writes == 0 for name, r in write_heavy.items() if name != "write-behind")


def test_widgets_rest_on_the_pure_functions():
    from cachelab.lab.widgets import controls, ecommerce_widget, patterns_widget

    shop = ecommerce_widget(db_delay=0.0, clock=FakeClock())
    assert [r["db_reads"] for r in shop.result] == [1, 1, 1]
    before = [r["miss_time"] for r in shop.result]
    controls(shop)["db_delay"].value = 0.1
    after = [r["miss_time"] for r in shop.result]
    # In simulated time each miss costs exactly the slider's delay more (users and orders add their own).
    assert [round(b - a, 9) for a, b in zip(before, after)] == [0.1, 0.1, 0.1]

    patterns = patterns_widget(n_ops=200)
    assert [r.pattern for r in patterns.result][0] == "no cache"
    controls(patterns)["reads"].value = 0.0
    assert all(r.read_ms == 0 and r.stale_reads == 0 for r in patterns.result)


def test_service_runs_over_the_cache_it_is_given():
    """The service builds no cache of its own when given a factory: one cache per kind of data."""
    made = {}

    def factory(kind, ttl):
        made[kind] = (cachelab.LRUCache(100), ttl)
        return made[kind][0]

    with ECommerceService(db_delay=0.01, cache_ttl=60, clock=cachelab.FakeClock(), log=None,
                          cache=factory) as service:
        service.get_product(1)
        service.get_product(1)
        assert set(made) == {"product", "user", "orders", "session", "price", "event"}
        assert made["product"][0].cache_info().hits == 1 and made["user"][1] == 30
        assert service.get_stats()["hits"] == 1


def test_service_refuses_a_factory_that_makes_no_cache():
    with pytest.raises(TypeError, match="cache"):
        ECommerceService(clock=cachelab.FakeClock(), log=None, cache=lambda kind, ttl: 42)
