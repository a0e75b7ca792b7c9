"""Replays, the one-pass LRU curve against size-by-size replays, and per-policy curves."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cachelab import LRUCache, SieveCache, opt_hits
from cachelab.lab.simulation import hit_curve, lru_hit_curve, replay, stack_distances
from cachelab.lab.workloads import loop, shifting_hotset, uniform, zipf, zipf_scan


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


# -- the policies lab (notebook 08): pure functions, then the plots and widgets --

from cachelab.policies import POLICIES  # noqa: E402
from cachelab.lab.simulation import ALL_POLICIES, compare_policies, gaps_to_opt  # noqa: E402
from cachelab.lab.views import curves_table  # noqa: E402
from cachelab.lab.workloads import WORKLOADS, make_trace  # noqa: E402


def test_compare_policies_puts_opt_on_top():
    curves = compare_policies(make_trace("zipf+scan", 3000, 200, seed=0), [5, 20, 60])
    assert list(curves) == [*POLICIES, "OPT"] == list(ALL_POLICIES)
    gaps = gaps_to_opt(curves)
    assert set(gaps) == set(POLICIES)
    assert all((gap >= 0).all() for gap in gaps.values())
    # The scan flushes LRU's hot keys; S3-FIFO's small queue absorbs it.
    assert gaps["S3-FIFO"][1] < gaps["LRU"][1]
    table = curves_table(curves)
    assert table.splitlines()[0].split() == ["size", *ALL_POLICIES]
    assert table.splitlines()[-1].startswith("gap")


def test_random_policy_curves_are_seeded():
    trace = make_trace("zipf", 2000, 100, seed=0)
    assert (hit_curve("RR", trace, [5, 20]).hits.tolist()
            == hit_curve("RR", trace, [5, 20]).hits.tolist()
            != hit_curve("RR", trace, [5, 20], seed=1).hits.tolist())


def test_a_cache_that_holds_every_key_only_misses_first_uses():
    trace = make_trace("zipf", 1000, 50, seed=3)
    distinct = len(set(trace.tolist()))
    for policy in POLICIES:
        replayed = replay(__import__("cachelab").policies.new_cache(policy, distinct), trace).hits
        assert hit_curve(policy, trace, [distinct, 500]).hits.tolist() == [replayed] * 2
        assert replayed == len(trace) - distinct


def test_replay_counts_in_cache_info_as_reads_do():
    from cachelab import LFUCache

    cache = LFUCache(3)
    result = replay(cache, [1, 2, 1, 3, 4, 1, 2])
    info = cache.cache_info()
    assert (info.hits, info.misses) == (result.hits, result.misses) == (2, 5)


def test_gaps_need_opt():
    with pytest.raises(ValueError, match="OPT"):
        gaps_to_opt(compare_policies([1, 2, 1], [1], ["LRU"]))


def test_every_workload_by_name():
    for name in WORKLOADS:
        trace = make_trace(name, 500, 50, seed=1)
        assert len(trace) == 500 and trace.min() >= 0
    with pytest.raises(ValueError, match="workload must be one of"):
        make_trace("zipfian", 10, 10)


def test_curve_plot_draws_every_policy_and_the_gaps():
    from cachelab.lab.plots import Canvas, plot_policy_curves

    curves = compare_policies(make_trace("zipf", 2000, 100, seed=0), [5, 20, 50],
                              ["LRU", "SIEVE", "OPT"])
    left, right = plot_policy_curves(curves, size=20, axes=Canvas())
    assert [line.get_label() for line in left.get_lines()][:3] == ["LRU", "SIEVE", "OPT (ceiling)"]
    gaps = gaps_to_opt(curves)
    bars = {t.get_text(): p.get_width() for t, p in zip(right.get_yticklabels(), right.patches)}
    assert bars == pytest.approx({n: 100 * gaps[n][1] for n in ("LRU", "SIEVE")})


def test_lab_widgets_recompute_when_moved():
    from cachelab.lab.widgets import controls, policy_lab_widget, policy_walk_widget

    lab = policy_lab_widget(workload="zipf", size=25, policies=("LRU",), n_requests=1000, n_keys=50)
    assert set(lab.result) == {"LRU", "OPT"}
    assert controls(lab)["policies"].options == tuple(POLICIES)
    controls(lab)["policies"].value = ("SIEVE", "ARC")
    assert set(lab.result) == {"SIEVE", "ARC", "OPT"}
    walk = policy_walk_widget(policy="SIEVE", sequence="A B C A D", size=3)
    assert len(walk.result) == 1  # the walk starts at step 1
    controls(walk)["step"].value = 5
    assert walk.result[-1].evicted == "B"
    controls(walk)["sequence"].value = "A B ?"
    assert walk.result is None  # a bad key is reported, not raised


@pytest.mark.parametrize("policy", list(POLICIES))
def test_replay_through_the_hooks_matches_replay_through_get(policy):
    """replay() reads a cachelab cache through its hooks; the plain get() loop is the reference."""
    from cachelab.policies import new_cache

    trace = make_trace("zipf", 3000, 80, alpha=0.6, seed=5)
    for size in (1, 7, 30):
        fast, heard, slow = new_cache(policy, size), new_cache(policy, size), new_cache(policy, size)
        evicted = []
        heard.subscribe(evicted.append)  # a listener: stored through cache[key] = key
        hits = replay(slow, trace, hooks=False).hits
        assert replay(fast, trace).hits == replay(heard, trace).hits == hits
        assert fast.describe() == heard.describe() == slow.describe()
        assert fast.cache_info() == heard.cache_info() == slow.cache_info()
        assert len(evicted) == slow.cache_info().misses - len(slow)


@pytest.mark.parametrize("policy", list(POLICIES))
def test_every_registered_policy_replays_through_its_hooks(policy, monkeypatch):
    """ARC and S3-FIFO included: the quick replay never calls get() or cache[key] = value."""
    from cachelab.caches import Cache
    from cachelab.policies import new_cache

    def refuse(*args):
        raise AssertionError(f"{policy} replayed through get() or cache[key] = value")

    trace = make_trace("zipf+scan", 2000, 80, seed=2)
    expected = replay(new_cache(policy, 10), trace).hits
    monkeypatch.setattr(Cache, "get", refuse)
    monkeypatch.setattr(Cache, "__setitem__", refuse)
    assert replay(new_cache(policy, 10), trace).hits == expected


@pytest.mark.parametrize("trace", [[1, "1", 1, "1"], [1, None, 1, None, None], [1, 1.0, True, b"1", "1"],
                                   [(1, "a"), (1, "a"), ("1", "a")]])
def test_lru_hit_curve_sees_the_keys_a_cache_sees(trace):
    """1 and "1" are two keys to a cache; None is a key like any other."""
    curve = lru_hit_curve(trace)
    for size in range(1, len(trace) + 1):
        assert curve.hits[min(size, len(curve.hits) - 1)] == replay(LRUCache(size), trace).hits
