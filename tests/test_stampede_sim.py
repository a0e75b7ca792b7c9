"""The stampede simulator: each figure against a small case worked out by hand, then the issue's figures."""

import math

import numpy as np
import pytest

from cachelab.stampede import top_keys
from cachelab.lab.stampede_sim import (
    STRATEGIES,
    avalanche,
    cold_start,
    compare,
    load_timeline,
    poisson_arrivals,
    simulate,
    sweep,
    xfetch_expected,
)
from cachelab.lab.workloads import zipf

# One hot key, warm at 0, ttl 10, loads take 2 s.  Requests at:
#   1 (fresh), 10 (expired: the first miss), 10.5, 11 (during the load), 12 and 13 (after it).
HAND = [1, 10, 10.5, 11, 12, 13]
HIT = 0.001


def run(strategy, arrivals=HAND, **params):
    return simulate(strategy, arrivals=arrivals, ttl=10, delta=2, hit_latency=HIT, **params)


def test_no_protection_by_hand():
    r = run("none")
    # 10, 10.5 and 11 all miss and load: [10, 12], [10.5, 12.5], [11, 13], all three at once.
    assert (r.requests, r.hits, r.misses, r.loads, r.expiries) == (6, 3, 3, 3, 1)
    assert r.loads_per_expiry == 3 and r.max_concurrent == 3
    # Latencies: three hits at 1 ms, three loads of 2 s; nearest rank 3 of 6 and 6 of 6.
    assert (r.p50, r.p99) == (HIT, 2.0)
    assert r.stale_reads == 0 and r.waits == 3
    assert load_timeline(r, bin=5) == ([0, 5, 10], [0, 0, 3])


def test_single_flight_by_hand():
    r = run("single-flight")
    # 10 loads [10, 12]; 10.5 waits 1.5 s and 11 waits 1 s for it.
    assert (r.loads, r.expiries, r.loads_per_expiry, r.max_concurrent) == (1, 1, 1.0, 1)
    assert (r.misses, r.waits, r.p50, r.p99) == (3, 3, HIT, 2.0)
    r = run("single-flight", arrivals=[10, 10.5, 11])
    assert (r.p50, r.p99) == (1.5, 2.0)  # sorted 1.0, 1.5, 2.0: rank 2 and rank 3


def test_single_flight_is_per_server():
    # Client 0 on server 0, client 1 on server 1: each server loads once.
    r = run("single-flight", arrivals=[(10, 0, 0), (10.5, 0, 1), (11, 0, 2)], servers=2)
    assert (r.loads, r.expiries, r.max_concurrent) == (2, 1, 2)


def test_lock_by_hand():
    r = run("lock", arrivals=[10, 10.5, 11], poll=0.4)
    # The value lands at 12: 10.5 sees it at its 4th poll (1.6 s), 11 at its 3rd (1.2 s).
    assert (r.loads, r.loads_per_expiry, r.max_concurrent) == (1, 1.0, 1)
    assert (r.p50, r.p99) == (pytest.approx(1.6), 2.0)


def test_swr_by_hand():
    r = run("swr", stale_for=5)
    # 10, 10.5 and 11 get the old value at once; 10 starts the one background load.
    assert (r.loads, r.expiries, r.stale_reads, r.misses, r.waits) == (1, 1, 3, 0, 0)
    assert (r.p50, r.p99) == (HIT, HIT)
    r = run("swr", arrivals=[1, 16], stale_for=5)  # past the hard expiry (15): a miss that waits
    assert (r.stale_reads, r.misses, r.loads, r.p99) == (0, 1, 1, 2.0)


def test_xfetch_by_hand():
    # draws: t=1 u=1 (score 0); t=8 u=0.2 (score 3.2 >= 2 to go: early); t=8.5 u=0.5 (1.39 < 1.5);
    # t=9 u=0.1 (4.6 >= 1: early again, no marker); t=11 after both landed.
    arrivals, draws = [1, 8, 8.5, 9, 11], [1.0, 0.2, 0.5, 0.1, 1.0]
    r = run("xfetch", arrivals=arrivals, randoms=draws)
    assert (r.early, r.loads, r.expiries, r.loads_per_expiry, r.max_concurrent) == (2, 2, 1, 2.0, 2)
    assert (r.misses, r.waits, r.stale_reads) == (0, 2, 0)
    r = run("xfetch+marker", arrivals=arrivals, randoms=draws)
    assert (r.early, r.loads, r.loads_per_expiry) == (1, 1, 1.0)  # 9 sees the mark and reads on
    # Past the expiry, under the mark: the old value, stale, at once.
    r = run("xfetch+marker", arrivals=[9.5, 10.5], randoms=[0.2, 1.0])
    assert (r.early, r.stale_reads, r.misses, r.p99) == (1, 1, 0, 2.0)


def test_swr_refreshes_once_per_server_unless_claimed_in_redis():
    # Soft expiry 10: clients 0-3 on servers 0-3 read at 10, 10.2, 10.4, 10.6 (loads take 2 s).
    arrivals = [(10 + 0.2 * c, 0, c) for c in range(4)] + [(10.8, 0, 0)]
    r = run("swr", arrivals=arrivals, servers=4)
    assert (r.loads, r.expiries, r.loads_per_expiry, r.stale_reads, r.waits) == (4, 1, 4.0, 5, 0)
    r = run("swr+setnx", arrivals=arrivals, servers=4)
    assert (r.loads, r.loads_per_expiry, r.stale_reads, r.waits) == (1, 1.0, 5, 0)
    assert run("swr", arrivals=arrivals, servers=1).loads == 1


def test_xfetch_marker_races_only_within_a_round_trip_across_servers():
    # t=8 (server 0) recomputes early and marks; 8.0005 (server 1) checks before the mark lands
    # (round trip 1 ms) and its draw says recompute; 8.0005 on server 0 and 8.5 on server 1 see it.
    arrivals = [(1, 0, 0), (8, 0, 0), (8.0005, 0, 1), (8.0006, 0, 2), (8.5, 0, 1)]
    draws = [1.0, 0.2, 0.01, 0.2, 0.01]
    r = run("xfetch+marker", arrivals=arrivals, randoms=draws, servers=2)
    assert (r.early, r.loads, r.loads_per_expiry) == (2, 2, 2.0)
    r = run("xfetch+setnx", arrivals=arrivals, randoms=draws, servers=2)
    assert (r.early, r.loads, r.loads_per_expiry) == (1, 1, 1.0)


def test_jitter_by_hand():
    # First TTL 10 * (1 + 0.5 * (2 * 0.2 - 1)) = 7; the load landing at 11 gets 10 * 1.4 = 14.
    r = run("jitter", arrivals=[6.9, 9, 12, 24.9, 25], jitter=0.5, randoms=[0.2, 0.9])
    assert (r.hits, r.misses, r.loads) == (3, 2, 2)  # 6.9 hit, 9 miss, 12 and 24.9 hit, 25 miss
    assert r.load_starts == [9, 25]


def test_poisson_arrivals_are_seeded_and_have_the_rate():
    times, keys, clients = poisson_arrivals(100, 1.0, 100, keys=3, seed=7)
    again = poisson_arrivals(100, 1.0, 100, keys=3, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip((times, keys, clients), again))
    assert abs(len(times) - 10_000) < 400 and np.all(np.diff(times) >= 0)
    assert set(keys.tolist()) == {0, 1, 2} and clients.max() < 100


def test_the_stampede_grows_with_the_clients_and_every_cure_stops_it():
    grow = sweep("none", clients=(10, 100, 1000))
    per = [grow[c].loads_per_expiry for c in (10, 100, 1000)]
    assert per[0] < per[1] < per[2] and per[2] > 100
    results = compare(clients=100)
    assert set(results) == set(STRATEGIES)
    for name in ("lock", "single-flight", "swr", "xfetch+marker"):
        assert results[name].loads_per_expiry == 1.0, name
    assert results["swr"].p99 == results["swr"].p50 and results["swr"].stale_reads > 0
    assert results["none"].max_concurrent > 10 and results["single-flight"].max_concurrent == 1


def test_bad_simulator_inputs_name_the_parameter():
    with pytest.raises(ValueError, match="strategy"):
        simulate("hope")
    with pytest.raises(ValueError, match="beta"):
        simulate("xfetch", beta=0)
    with pytest.raises(ValueError, match="jitter"):
        simulate("jitter", jitter=1.0)
    with pytest.raises(ValueError, match="clients"):
        simulate(clients=0)


# -- the figures ----------------------------------------------------------------------------

XFETCH = dict(rate=0.1, delta=1.0, ttl=10.0, duration=11_000.0, beta=1.0, seed=0)


@pytest.mark.parametrize("clients", [10, 100, 1000])
def test_xfetch_beta_1_matches_the_papers_model(clients, capsys):
    r = simulate("xfetch", clients=clients, **XFETCH)
    expected, share = xfetch_expected(clients * XFETCH["rate"], XFETCH["delta"], 1.0, XFETCH["ttl"])
    assert r.expiries >= 1000
    assert r.loads_per_expiry == pytest.approx(expected, rel=0.06)
    assert r.waits / r.requests == pytest.approx(share, rel=0.06)
    with capsys.disabled():
        print(f"\nXFetch beta=1, {clients} clients, {r.expiries} expiries: "
              f"{r.loads_per_expiry:.3f} recomputes/expiry (model {expected:.3f}), "
              f"{r.waits / r.requests:.2%} of reads wait (model {share:.2%})")


def test_xfetch_model_limits():
    # Very few readers: hardly any early recompute, one load per expiry.  Many: e = 2.718...
    assert xfetch_expected(0.001, 1.0)[0] == pytest.approx(1.0, abs=0.01)
    assert xfetch_expected(10_000, 1.0)[0] == pytest.approx(math.e, abs=0.01)


def test_xfetch_marker_100_clients(capsys):
    r = simulate("xfetch+marker", clients=100, **XFETCH)
    assert r.expiries >= 1000
    assert r.loads_per_expiry <= 1.1
    assert r.misses == 0  # nobody waited on a miss
    with capsys.disabled():
        print(f"\nXFetch + marker, 100 clients: {r.loads_per_expiry:.3f} recomputes/expiry over "
              f"{r.expiries} expiries, {r.misses} misses, {r.stale_reads} stale reads")


def test_avalanche_by_hand():
    # No jitter, reads come at once after an expiry: all 5 keys reload in second 10, then 20.
    a = avalanche(5, ttl=10, rate=1e9, delta=0, duration=25)
    assert (a.peak, a.total) == (5, 10)
    assert a.loads[10] == a.loads[20] == 5 and sum(a.loads) == 10
    # With jitter each first expiry is 10 * (1 + 0.5 * (2u - 1)), u from the seeded generator.
    u = np.random.default_rng(3).random(4)
    a = avalanche(4, ttl=10, jitter=0.5, rate=1e9, delta=0, duration=12, seed=3)
    expiries = 10 * (1 + 0.5 * (2 * u - 1))
    expected = np.bincount(expiries[expiries < 12].astype(int), minlength=12)
    assert a.loads == expected.tolist()


def test_jitter_flattens_the_10000_key_avalanche(capsys):
    flat, spread = avalanche(10_000, jitter=0.0), avalanche(10_000, jitter=0.1)
    assert flat.total >= 10_000 and spread.total >= 10_000
    assert flat.peak >= 10 * spread.peak
    with capsys.disabled():
        print(f"\navalanche, 10,000 keys: peak {flat.peak} loads/s without jitter, {spread.peak} "
              f"with +-10% ({flat.peak / spread.peak:.0f}x lower)")


def test_cold_start_by_hand():
    cold = cold_start(0, n_keys=50, rate=10, seconds=10, bin=5)
    today = zipf(100, 50, seed=0).tolist()
    assert cold.misses == len(set(today))
    assert cold.ratios == [len(set(today[:50])) / 50, len(set(today[50:]) - set(today[:50])) / 50]
    warm = cold_start(10, n_keys=50, rate=10, seconds=10, bin=5)
    hot = set(top_keys(zipf(20_000, 50, seed=1).tolist(), 10))
    assert warm.misses == len(set(today) - hot) < cold.misses
