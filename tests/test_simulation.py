"""Replays, the one-pass LRU curve against size-by-size replays, and per-policy curves."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cachelab import LRUCache, SieveCache, opt_hits
from cachelab.simulation import hit_curve, lru_hit_curve, replay, stack_distances
from cachelab.workloads import loop, shifting_hotset, uniform, zipf, zipf_scan


def lru_by_replay(trace, sizes):
    return [replay(LRUCache(size), trace).hits if size else 0 for size in sizes]


@pytest.mark.parametrize("seed", range(4))
def test_one_pass_curve_equals_replay_at_every_size(seed):
    trace = zipf(2000, 200, 0.9, seed=seed)
    curve = lru_hit_curve(trace)
    assert curve.sizes.tolist() == list(range(len(np.unique(trace)) + 1))
    assert curve.hits.tolist() == lru_by_replay(trace, curve.sizes)


@pytest.mark.parametrize("trace", [uniform(3000, 200, seed=1), loop(1000, 50),
                                   shifting_hotset(3000, 300, seed=2),
                                   zipf_scan(3000, 100, seed=3)],
                         ids=["uniform", "loop", "hotset", "zipf+scan"])
def test_one_pass_curve_on_other_workloads(trace):
    sizes = [1, 7, 50, 51, 120, 400]
    assert lru_hit_curve(trace, sizes).hits.tolist() == lru_by_replay(trace, sizes)


@settings(max_examples=100, deadline=None)
@given(trace=st.lists(st.sampled_from("abcdefg"), max_size=60))
def test_stack_distance_is_one_plus_distinct_keys_since_last_use(trace):
    expected = []
    for i, key in enumerate(trace):
        if key in trace[:i]:
            last = i - 1 - trace[:i][::-1].index(key)
            expected.append(1 + len(set(trace[last + 1:i])))
        else:
            expected.append(0)
    assert stack_distances(trace).tolist() == expected


def test_curve_reports_ratios_and_takes_any_hashable_keys():
    curve = lru_hit_curve(["a", "b", "a", "b"], sizes=[1, 2, 5])
    assert curve.hits.tolist() == [0, 2, 2] and curve.requests == 4
    assert curve.hit_ratios.tolist() == [0.0, 0.5, 0.5]
    assert lru_hit_curve([]).hits.tolist() == [0]


def test_hit_curve_for_other_policies_and_opt():
    trace = zipf(2000, 200, seed=5)
    sizes = [0, 10, 40]
    sieve = hit_curve("SIEVE", trace, sizes)
    assert sieve.hits.tolist() == [0] + [replay(SieveCache(s), trace).hits for s in sizes[1:]]
    assert hit_curve(SieveCache, trace, sizes).hits.tolist() == sieve.hits.tolist()
    assert hit_curve("opt", trace, sizes).hits.tolist() == [opt_hits(trace, s) for s in sizes]
    assert hit_curve("LRU", trace, sizes).hits.tolist() == lru_by_replay(trace, sizes)


def test_hit_curve_names_bad_arguments():
    with pytest.raises(ValueError, match="policy must be one of"):
        hit_curve("MRU", [1, 2], [1])
    with pytest.raises(TypeError, match="policy"):
        hit_curve(3, [1, 2], [1])
    with pytest.raises(ValueError, match="sizes"):
        hit_curve("LRU", [1, 2], [-1])


def test_progress_bar_only_when_asked(capsys):
    replay(LRUCache(2), [1, 2, 1])  # short: no bar
    assert capsys.readouterr().err == ""
    replay(LRUCache(2), [1, 2, 1], progress=True)
    assert "LRUCache" in capsys.readouterr().err
