"""Every registered policy through every view, and what each view shows.

The views draw a cache's describe() rows without knowing the policy, so a
new policy in policies.POLICIES is drawn by all of them with no other edit.
"""

import re

import pytest

from cachelab.caches import Row
from cachelab.lab.experiments import lfu_steps, lru_steps, policy_steps, ttl_timeline
from cachelab.lab.plots import Canvas, plot_hit_rates, plot_steps, plot_ttl_timeline, to_png
from cachelab.policies import POLICIES, new_cache
from cachelab.lab.views import (GHOST, HIT, MISS, SPARED, colour_of, hit_rate_chart, html_steps,
                            row_text, step_table, svg_bars, svg_chart, svg_ttl_timeline)
from cachelab.lab.widgets import controls, policy_walk_widget

SEQUENCE = "A B C A D B E A F G A C"


@pytest.mark.parametrize("policy", list(POLICIES))
def test_every_policy_through_every_view(policy):
    steps = policy_steps(policy, SEQUENCE, 3)
    last = steps[-1]
    keys = [key for row in last.state for key in row.keys if not row.ghost]
    cache = new_cache(policy, 3)
    for key in SEQUENCE.split():
        if cache.get(key) is None:
            cache[key] = key
    assert sorted(keys) == sorted(cache)
    # text: one line per step, and the last line names every cached key
    table = step_table(steps).splitlines()
    assert len(table) == len(steps) + 1
    assert all(str(key) in table[-1] for key in keys)
    # HTML: one row per step, every cached key in a box
    view = html_steps(steps, upto=len(steps))
    assert view.count("<tr") == len(steps)
    last_row = view.split("<tr")[-1]
    assert all(re.search(rf">{key}( <small>[^<]*</small>)?</span>", last_row) for key in keys)  # a note may follow
    # matplotlib: a box per key of every row of every step, and the keys written in them
    ax = plot_steps(steps, ax=Canvas())
    boxes = sum(max(len(row.keys), 1) for s in steps for row in s.state)
    assert len(ax.patches) == boxes
    # the widget that walks any policy
    widget = policy_walk_widget(policy=policy, sequence=SEQUENCE, size=3)
    controls(widget)["step"].value = len(steps)
    assert widget.result[-1] == last


def test_cached_keys_in_the_rows_are_the_cache():
    for policy in POLICIES:
        cache = new_cache(policy, 4)
        for key in SEQUENCE.split():
            if cache.get(key) is None:
                cache[key] = key
        rows = cache.describe()
        assert all(isinstance(row, Row) for row in rows)
        assert sorted(k for row in rows if not row.ghost for k in row.keys) == sorted(cache), policy


def test_marks_read_the_same_in_every_view():
    steps = policy_steps("SIEVE", "A B C A", 3)   # A visited, under the hand
    assert row_text(steps[-1].state[0]) == "[A]* B C"
    assert row_text(policy_steps("SIEVE", "A B C A D", 3)[-1].state[0]) == "A [C] D"  # mark spent
    view = html_steps(steps)
    assert f"background:{SPARED}" in view and "▸" in view and "the hand" in view
    arc = policy_steps("ARC", "A B C A D", 3)
    assert step_table(arc).splitlines()[-1].endswith("B1: (B)  B2: -")
    assert f"background:{GHOST};border:1px dashed" in html_steps(arc)
    ax = plot_steps(policy_steps("SIEVE", "A B C A B", 3), ax=Canvas())  # A stays blue at 5
    colours = {tuple(round(c, 3) for c in p.get_facecolor()[:3]) for p in ax.patches}
    assert _rgb(SPARED) in colours and _rgb(HIT) in colours and _rgb(MISS) in colours


def _rgb(colour):
    from matplotlib.colors import to_rgb

    return tuple(round(c, 3) for c in to_rgb(colour))


def test_ttl_notes_show_each_expiry():
    steps = ttl_timeline(2.5, gap=1.0, n_requests=4).steps
    assert step_table(steps).splitlines()[-1].split()[-3:] == ["A", "until", "5.5"]
    assert "until 5.5" in html_steps(steps)


def test_ttl_timeline_svg_draws_a_bar_per_lifetime_and_a_mark_per_request():
    run = ttl_timeline(2.0, schedule="0 0.5 1 1.5 6", sequence="A B A B A")
    svg = svg_ttl_timeline(run)
    assert svg.count("<rect") == len(run.lifetimes) == 3
    hits = sum(s.hit for s in run.steps)
    assert svg.count(f'fill="{HIT}"') == hits + 1   # one per hit, one in the legend
    assert svg.count(f'stroke="{MISS}"') == len(run.steps) - hits + 1
    ax = plot_ttl_timeline(run, ax=Canvas())
    assert len(ax.patches) == 3


def test_one_chart_spec_for_svg_and_matplotlib():
    from cachelab.lab.experiments import hit_rate_table

    curves = hit_rate_table("zipf", sizes=(5, 20, 80))
    chart = hit_rate_chart(curves, ("LFU", 20, 0.6), title="zipf")
    svg = svg_chart(chart)
    ax = plot_hit_rates(curves, ("LFU", 20, 0.6), title="zipf", ax=Canvas())
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == [s.name for s in chart.series] == list(curves)
    for line, series in zip(lines, chart.series):
        assert list(line.get_ydata()) == pytest.approx(series.ratios)
        assert f'stroke="{series.colour}"' in svg and _rgb(line.get_color()) == _rgb(series.colour)
    assert svg.count("<polyline") == 4 and "LFU @ 20: 60%" in svg and ax.get_title() == "zipf"
    assert len(to_png(ax)) > 1000


def test_a_policy_keeps_its_colour_in_every_chart():
    assert colour_of("LRU") != colour_of("LFU") and colour_of("OPT") == "#000000"
    assert len({colour_of(name) for name in POLICIES}) == len(POLICIES)


def test_lru_and_lfu_tables_read_like_the_steps():
    assert step_table(lru_steps("A B A C", 2)).splitlines()[-1].split() == ["4", "C", "miss", "B",
                                                                           "A", "C"]
    assert step_table(lfu_steps("A B A C", 2)).splitlines()[-1].split()[-4:] == ["1x:", "C",
                                                                                 "2x:", "A"]


def test_a_new_policy_is_one_class_and_one_registry_line(monkeypatch):
    """README's "Add a policy": no view, table or widget needs another edit."""
    from cachelab import LRUCache
    from cachelab.lab.simulation import compare_policies

    class MRUCache(LRUCache):
        def _victim(self):
            return next(reversed(self._data))

    monkeypatch.setitem(POLICIES, "MRU", MRUCache)
    steps = policy_steps("mru", "A B C A D", 3)
    assert [s.evicted for s in steps] == [None, None, None, None, "A"]
    assert step_table(steps).splitlines()[-1].split()[-3:] == ["B", "C", "D"]
    assert ">D</span>" in html_steps(steps) and plot_steps(steps, ax=Canvas()).patches
    curves = compare_policies([1, 2, 3, 1, 2, 3], [2], ["MRU", "OPT"])
    assert curves["MRU"].hits.tolist() == [2]
    assert "MRU" in svg_chart(hit_rate_chart(curves)) and colour_of("MRU") not in (
        colour_of(name) for name in POLICIES if name != "MRU")
    assert "MRU" in controls(policy_walk_widget(policy="MRU", sequence="A B"))["policy"].options


def test_bars_draw_one_rect_per_value_and_a_legend():
    svg = svg_bars(["a", "b"], [("miss", MISS, [100.0, 50.0]), ("hit", HIT, [0.01, 0.02])],
                   title="time", unit=" ms", log=True)
    assert svg.count("<rect") == 4 + 2 and "(log scale)" in svg and "100 ms" in svg
    widths = [float(part.split('"')[0]) for part in svg.split('width="')[2:6]]
    assert widths[0] > widths[2] > widths[3] > 0   # 100 ms > 50 ms ... > 0.01 ms, log scale


def test_gap_bars_name_every_policy_but_opt():
    from cachelab.lab.simulation import compare_policies
    from cachelab.lab.views import html_gaps
    from cachelab.lab.workloads import make_trace

    curves = compare_policies(make_trace("zipf", 1000, 50, seed=0), [5, 10], ["LRU", "ARC", "OPT"])
    view = html_gaps(curves, 10)
    assert "LRU" in view and "ARC" in view and ">OPT<" not in view and "size 10" in view
