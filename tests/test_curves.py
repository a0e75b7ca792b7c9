"""Miss-ratio curves: exact ones in C agree with cachelab's replays; sampled ones stay near them.

Every trace is seeded; the errors are checked against bounds, never the
time a curve takes (benchmarks/bench_policies.py reports that).
"""

import numpy as np
import pytest

from cachelab.lab.curves import (
    EXACT_IN_LIBCACHESIM, byte_curve, cache_costs, cheapest, knee, mae, mini_curve, shards_curve, simulate_curve,
    simulate_curves, spatial_sample, windowed_curves, zipf_chunks, zipf_fit, zipf_like,
)
from cachelab.lab.datasets import fetch_trace
from cachelab.lab.simulation import HitCurve, hit_curve, lru_hit_curve
from cachelab.lab.workloads import zipf, zipf_scan

pytest.importorskip("libcachesim")  # conftest.py points LCS_HUB_CACHE at a temporary directory

TRACE = zipf_scan(20_000, 1_500, 0.9, scan_length=300, scan_every=4_000, seed=7)
SIZES = [0, 5, 15, 40, 200, 900, 5_000]


@pytest.mark.parametrize("policy", [*EXACT_IN_LIBCACHESIM, "W-TinyLFU", "RR"])
def test_simulated_curves_are_cachelabs_hit_for_hit(policy):
    """libCacheSim where it is exact (S3-FIFO from 20 up), cachelab's class everywhere else."""
    assert simulate_curve(policy, TRACE, SIZES).hits.tolist() == hit_curve(policy, TRACE, SIZES).hits.tolist()


def test_libcachesims_own_wtinylfu_is_within_a_point():
    theirs = simulate_curve("W-TinyLFU", TRACE, [200, 900], engine="libcachesim")
    assert theirs.policy == "W-TinyLFU" and mae(theirs, hit_curve("W-TinyLFU", TRACE, [200, 900])) < 0.01


def test_simulate_curves_names_each_policy():
    curves = simulate_curves(TRACE, [40, 200], ["lru", "sieve", "OPT"])
    assert list(curves) == ["LRU", "SIEVE", "OPT"]
    assert all(isinstance(c, HitCurve) and c.requests == len(TRACE) for c in curves.values())
    assert (curves["OPT"].hits >= curves["SIEVE"].hits).all()


def test_byte_hit_ratio_of_the_real_trace():
    trace = fetch_trace("cloudphysics", download=False)
    capacities = [2**20, 2**24, 2**28]
    by_objects, by_bytes = byte_curve("LRU", trace, capacities)
    assert by_bytes.requests == trace.sizes.sum() and by_objects.requests == len(trace.keys)
    assert 0 < by_bytes.hit_ratios[0] < by_bytes.hit_ratios[1] < by_bytes.hit_ratios[2] < 1
    assert (by_objects.hit_ratios >= by_bytes.hit_ratios).all()  # on this trace the big requests miss more


def test_sampling_keeps_every_request_for_a_share_of_the_keys():
    keys = np.arange(200_000)
    kept = spatial_sample(keys, 0.01, seed=3)
    assert 0.008 < kept.mean() < 0.012
    assert np.array_equal(kept, spatial_sample(keys, 0.01, seed=3))
    assert not np.array_equal(kept, spatial_sample(keys, 0.01, seed=4))
    repeated = np.tile(keys[:1000], 3)
    assert np.array_equal(spatial_sample(repeated, 0.3)[:1000], spatial_sample(repeated, 0.3)[2000:])


def test_shards_at_rate_one_is_the_exact_curve():
    exact = lru_hit_curve(TRACE, SIZES)
    assert np.allclose(shards_curve(TRACE, SIZES, 1.0).hits, exact.hits)


def test_shards_error_against_the_exact_curve():
    trace = zipf(300_000, 30_000, 0.8, seed=11)
    sizes = np.linspace(300, 15_000, 20).astype(int)
    exact = lru_hit_curve(trace, sizes)
    errors = [mae(shards_curve(trace, sizes, 0.1, seed=seed, exact=0), exact) for seed in range(3)]
    assert max(errors) < 0.03  # sampling noise: which popular keys a 10% sample holds
    unadjusted = [mae(shards_curve(trace, sizes, 0.1, seed=seed, adjust=False, exact=0), exact)
                  for seed in range(3)]
    assert np.mean(errors) < np.mean(unadjusted)  # SHARDS_adj earns its place


def test_shards_at_one_percent_counts_the_small_sizes_exactly():
    """Sizes up to 6,000 come from an exact stack; above, the sample scales its misses."""
    trace = zipf(300_000, 30_000, 0.8, seed=11)
    sizes = np.linspace(300, 15_000, 20).astype(int)
    exact = lru_hit_curve(trace, sizes)
    small = sizes <= 6_000  # 60 sampled keys at rate 0.01
    errors, plain = [], []
    for seed in range(3):
        curve = shards_curve(trace, sizes, 0.01, seed=seed)
        assert np.allclose(curve.hits[small], exact.hits[small])
        errors.append(mae(curve, exact))
        plain.append(mae(shards_curve(trace, sizes, 0.01, seed=seed, exact=0), exact))
    assert np.mean(errors) < 0.012  # a 1% sample of these 30,000 keys holds about 300
    assert np.mean(errors) < np.mean(plain) / 2  # the hot keys' luck of the draw, gone


def test_shards_reads_chunks_as_one_trace():
    chunks = np.array_split(TRACE, 7)
    assert np.array_equal(shards_curve(iter(chunks), SIZES, 0.2, seed=1).hits,
                          shards_curve(TRACE, SIZES, 0.2, seed=1).hits)


def test_shards_exact_stack_spans_chunks_and_pieces(monkeypatch):
    """Distances up to the stack's depth stay exact across chunk and piece boundaries."""
    monkeypatch.setattr("cachelab.lab.curves._ExactStack.PIECE", 1_000)
    sizes = np.arange(0, 401, 20)
    chunks = np.array_split(TRACE, 9)
    curve = shards_curve(iter(chunks), sizes, 0.1, seed=2, exact=400)  # a stack of depth 400
    assert np.allclose(curve.hits, lru_hit_curve(TRACE, sizes).hits)


@pytest.mark.parametrize("policy", ["SIEVE", "S3-FIFO", "W-TinyLFU"])
def test_miniature_simulation_stays_near_the_exact_curve(policy):
    trace = zipf(200_000, 20_000, 0.9, seed=5)
    sizes = [1_000, 3_000, 6_000, 10_000]
    exact = simulate_curve(policy, trace, sizes, engine="libcachesim")
    assert mae(mini_curve(policy, trace, sizes, 0.05), exact) < 0.015
    assert mae(mini_curve(policy, trace, sizes, 1.0), exact) == 0


def test_miniature_simulation_of_a_policy_of_your_own():
    from cachelab import LRUCache

    class InsertionOrder(LRUCache):  # a read does not refresh a key: FIFO, written another way
        def _touch(self, key):
            pass

        _update = _touch

    trace = zipf(50_000, 5_000, 0.9, seed=6)
    exact = simulate_curve(InsertionOrder, trace, [500, 2_000])
    assert exact.hits.tolist() == simulate_curve("FIFO", trace, [500, 2_000]).hits.tolist()
    assert exact.policy == "InsertionOrder"
    assert mae(mini_curve(InsertionOrder, trace, [500, 2_000], 0.2, engine="cachelab"), exact) < 0.02


def test_zipf_chunks_draw_the_same_law_as_zipf():
    ours = np.concatenate(list(zipf_chunks(400_000, 500, 0.9, chunk=70_000, seed=1)))
    theirs = zipf(400_000, 500, 0.9, seed=1)
    assert len(ours) == 400_000 and ours.max() < 500
    assert np.abs(np.bincount(ours, minlength=500) - np.bincount(theirs, minlength=500)).max() < 2_000


def test_zipf_fit_recovers_alpha_and_a_like_trace_follows():
    trace = zipf(300_000, 5_000, 0.8, seed=2)
    alpha, keys = zipf_fit(trace, top=500)
    assert abs(alpha - 0.8) < 0.05 and keys == len(np.unique(trace))
    like = zipf_like(trace, seed=3)
    assert len(like) == len(trace) and len(np.unique(like)) <= keys


def test_knee_and_windows():
    curve = HitCurve("X", np.arange(0, 101, 10), np.array([0, 50, 80, 90, 93, 95, 96, 97, 98, 99, 100]), 100)
    assert knee(curve) == 20
    windows = windowed_curves(TRACE, [40, 200], windows=4)
    assert len(windows) == 4 and sum(w.requests for w in windows) == len(TRACE)


@pytest.mark.parametrize("call, name", [
    (lambda: shards_curve(TRACE, SIZES, 0), "rate"),
    (lambda: shards_curve(TRACE, SIZES, 1.5), "rate"),
    (lambda: shards_curve(TRACE, SIZES, 0.1, exact=-1), "exact"),
    (lambda: simulate_curve("LRU", TRACE, SIZES, engine="java"), "engine"),
    (lambda: simulate_curve("LRU", TRACE, [-1]), "sizes"),
    (lambda: byte_curve("LRU", TRACE, [10]), "trace"),
])
def test_bad_arguments_are_named(call, name):
    with pytest.raises((TypeError, ValueError), match=name):
        call()


# -- what a size costs -------------------------------------------------------------

def test_costs_trade_memory_for_database_reads():
    curve = HitCurve("X", np.array([0, 100, 200, 400]), np.array([0, 50, 80, 90]), 100)
    costs = cache_costs(curve, requests_per_second=100, entry_bytes=10**6, memory_price=1.0, read_price=1.0)
    month = 30 * 24 * 3600
    assert np.allclose(costs.reads_per_second, [100, 50, 20, 10])
    assert np.allclose(costs.memory, [0, 0.1, 0.2, 0.4])
    assert np.allclose(costs.database, costs.reads_per_second * month / 1e6)
    assert cheapest(costs) == (400, float(costs.total[-1]))
    free_reads = cache_costs(curve, requests_per_second=100, entry_bytes=10**6, memory_price=1.0, read_price=0)
    assert cheapest(free_reads) == (0, 0.0)  # reads cost nothing: no cache pays for itself


def test_the_cost_slider_marks_the_cheapest_size():
    from cachelab.lab.widgets import controls, cost_widget

    curve = lru_hit_curve(TRACE, np.linspace(0, 1_500, 31).astype(int))
    widget = cost_widget(curve, requests_per_second=100, entry_bytes=10**6, memory_price=1.0, read_price=1.0)
    first = cheapest(widget.result)[0]
    controls(widget)["$/GB-month"].value = 10**2.5  # memory far dearer: a smaller cache is cheapest
    assert cheapest(widget.result)[0] < first


def test_costs_name_a_bad_price():
    with pytest.raises(ValueError, match="memory_price"):
        cache_costs(lru_hit_curve(TRACE, [10]), requests_per_second=1, entry_bytes=1, memory_price=-1,
                    read_price=1)
