"""The race simulator, its fixes against every interleaving, TTL choice and write-behind lag."""

import math

import pytest

from cachelab.caches import MISSING, FakeClock
from cachelab.lab.consistency import (
    SCENARIOS,
    STRATEGIES,
    RedisRaceCache,
    SimCache,
    format_outcome,
    format_race_table,
    format_ttl_table,
    interleavings,
    race_table,
    run,
    threaded_races,
    ttl_tradeoff,
    write_behind_lag,
)
from cachelab.lab.workloads import read_write_workload

# Which schedules leave the cache stale, for every strategy and scenario.
EXPECTED_STALE = {
    ("update on write", "reader + writer"): ["RRWWR"],
    ("update on write", "two writers"): ["ABBA", "BAAB"],
    ("delete before write", "reader + writer"): ["RRWRW", "RRWWR", "RWRRW", "RWRWR", "WRRRW", "WRRWR"],
    ("delete before write", "two writers"): [],
    ("delete after write", "reader + writer"): ["RRWWR"],
    ("delete after write", "two writers"): [],
    ("delete after write + 5 s TTL", "reader + writer"): ["RRWWR"],
    ("delete after write + 5 s TTL", "two writers"): [],
    ("versioned (CAS)", "reader + writer"): [],
    ("versioned (CAS)", "two writers"): [],
    ("lease", "reader + writer"): [],
    ("lease", "two writers"): [],
}


def stale(strategy, scenario, cache=None):
    return sorted(s for s in interleavings(strategy, scenario)
                  if run(strategy, s, scenario, cache=cache).stale)


def test_every_strategy_and_scenario_is_covered():
    assert set(EXPECTED_STALE) == {(s, c) for s in STRATEGIES for c in SCENARIOS}


def test_interleavings_are_every_order_of_the_steps():
    # A reader that misses takes 3 steps and a writer 2: C(5, 2) = 10 orders.
    orders = interleavings("delete after write")
    assert len(orders) == len(set(orders)) == 10
    assert all(sorted(o) == sorted("RRRWW") for o in orders)
    assert len(interleavings("update on write", "two writers")) == 6


@pytest.mark.parametrize("strategy, scenario", sorted(EXPECTED_STALE))
def test_stale_interleavings(strategy, scenario):
    assert stale(strategy, scenario) == EXPECTED_STALE[strategy, scenario]


@pytest.mark.parametrize("strategy, scenario", sorted(EXPECTED_STALE))
def test_fresh_interleavings_end_with_the_database_value_or_nothing(strategy, scenario):
    for schedule in interleavings(strategy, scenario):
        outcome = run(strategy, schedule, scenario)
        if not outcome.stale:
            assert outcome.cached in (None, outcome.db), schedule
            assert outcome.stale_for == 0.0


def test_the_classic_race_stays_stale_until_the_ttl():
    outcome = run("delete after write", "RRWWR")
    assert (outcome.cached, outcome.db, outcome.stale, outcome.stale_for) == (1, 2, True, 3600.0)
    assert outcome.trace == ["R: cache miss", "R: db read → 1", "W: db write 2",
                             "W: cache delete", "R: cache set 1"]
    assert "STALE: cache 1, database 2, for 3600 s" in format_outcome(outcome)


def test_a_short_ttl_bounds_the_race():
    assert run("delete after write + 5 s TTL", "RRWWR").stale_for == 5.0


def test_the_fixes_refuse_the_late_store():
    assert run("versioned (CAS)", "RRWWR").trace[-1] == "R: cache set 1 if newer than v1: refused"
    assert run("lease", "RRWWR").trace[-1] == "R: cache set 1 with lease 1: refused"


def test_unfinished_requests_run_to_the_end_in_letter_order():
    assert run("delete after write", "W").schedule == "WRRRW"


def test_bad_schedules_are_refused():
    with pytest.raises(ValueError, match="among RW"):
        run("lease", "RX")
    with pytest.raises(ValueError, match="already finished"):
        run("lease", "WWW")
    with pytest.raises(ValueError, match="strategy must be one of"):
        run("nope", "RW")
    with pytest.raises(ValueError, match="scenario must be one of"):
        run("lease", "RW", "three writers")


def test_sim_cache_expires_and_compares_versions():
    clock = FakeClock()
    cache = SimCache(clock)
    cache.set("k", "a", ttl=10, version=2)
    assert not cache.set_if_newer("k", "old", 1)
    assert cache.set_if_newer("k", "new", 3, ttl=10)
    assert cache.get("k") == "new" and cache.ttl_left("k") == 10
    clock.tick(10)
    assert cache.get("k") is MISSING and cache.ttl_left("k") is None


def test_sim_cache_leases_are_revoked_by_a_delete():
    cache = SimCache()
    value, token = cache.lease_get("k")
    assert value is MISSING and token is not None
    cache.delete("k")
    assert not cache.lease_set("k", 1, token)
    _, token = cache.lease_get("k")
    assert cache.lease_set("k", 2, token)
    assert cache.lease_get("k") == (2, None)
    assert not cache.lease_set("k", 3, token)  # a lease fills a key once


@pytest.fixture(scope="module")
def redis_client():
    from cachelab.redis import redis_server

    with redis_server(embedded=True) as server:
        yield server.client()


def test_the_same_races_on_a_real_redis(redis_client):
    """Lua compare-and-set and leases on Valkey give the simulator's table, order for order."""
    cache = RedisRaceCache(redis_client)
    for (strategy, scenario), expected in EXPECTED_STALE.items():
        assert stale(strategy, scenario, cache) == expected, (strategy, scenario)
    assert race_table(cache=cache) == race_table()



def test_a_replacement_compare_and_set_script_is_what_the_table_runs(redis_client):
    """A CAS script that stores whatever it is given loses the reader's race; the real one does not."""
    always = "redis.call('HSET', KEYS[1], 'value', ARGV[1], 'version', ARGV[2]) return 1"
    careless = RedisRaceCache(redis_client, prefix="careless:", set_if_newer=always)
    assert stale("versioned (CAS)", "reader + writer", careless) == ["RRWWR"]
    assert race_table(["versioned (CAS)"], cache=RedisRaceCache(redis_client)) == race_table(["versioned (CAS)"])


def test_threaded_races_count_stale_runs_and_the_fixes_have_none(redis_client):
    """Real threads on a real server: compare-and-set and leases never end stale, whatever the timing."""
    cache = RedisRaceCache(redis_client, prefix="threads:")
    for strategy in ("versioned (CAS)", "lease"):
        assert threaded_races(strategy, cache, 100, writer_delay=0.001) == 0
    found = threaded_races("delete after write", cache, 50, writer_delay=0.001)
    assert 0 <= found <= 50
    with pytest.raises(ValueError, match="trials"):
        threaded_races("lease", cache, 0)

def test_redis_ttl_left(redis_client):
    cache = RedisRaceCache(redis_client, prefix="ttl-test:")
    cache.set("k", {"a": 1}, ttl=5)
    assert cache.get("k") == {"a": 1} and cache.ttl_left("k") == 5.0
    cache.set("k", 2)
    assert cache.ttl_left("k") == math.inf
    cache.delete("k")
    assert cache.ttl_left("k") is None and cache.get("k") is MISSING


def test_ttl_tradeoff_longer_ttl_more_hits_more_staleness():
    rows = ttl_tradeoff([1, 10, 100], duration=300, seed=1)
    assert [r.hit_ratio for r in rows] == sorted(r.hit_ratio for r in rows)
    assert [r.stale_reads for r in rows] == sorted(r.stale_reads for r in rows)
    assert all(r.worst_age <= r.ttl for r in rows)  # the TTL bounds staleness
    assert ttl_tradeoff([1, 10], duration=300, seed=1) == rows[:2]  # seeded


def test_invalidation_serves_no_stale_reads():
    (row,) = ttl_tradeoff([1000], duration=300, invalidate=True, seed=1)
    assert row.stale_reads == 0 and row.hit_ratio > 0.5


def test_write_behind_lag_grows_with_the_flush_interval():
    ops = read_write_workload(500, 0.2, seed=0)
    fast, slow = write_behind_lag(ops, 0.5), write_behind_lag(ops, 10)
    assert fast.writes == slow.writes == sum(op == "write" for op, _ in ops)
    assert 0 < fast.mean_lag < slow.mean_lag
    assert fast.max_lag <= 0.5 + 0.1 + 1e-9 < slow.max_lag <= 10 + 0.1 + 1e-9
    assert slow.batches < fast.batches


def test_tables_as_text():
    text = format_race_table(race_table(["lease", "delete after write"], ["reader + writer"]))
    assert text.splitlines()[1].split()[-1] == "-"          # lease: never stale
    assert text.splitlines()[2].endswith("1  3600 s")        # one stale order, for the TTL
    rows = ttl_tradeoff([10], duration=60, seed=1) + ttl_tradeoff([10], duration=60, invalidate=True, seed=1)
    lines = format_ttl_table(rows).splitlines()
    assert "no" in lines[1].split() and "yes" in lines[2].split()
