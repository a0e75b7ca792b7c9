"""The slider widgets without a browser: move a control, check what comes back.

The widgets draw offscreen or as HTML, so no window opens and no figure is left behind.
"""

import pytest

from cachelab.lab.experiments import hit_rate_table, lfu_steps, lru_steps, policy_steps, ttl_timeline
from cachelab.lab.plots import Canvas, plot_hit_rates, plot_steps, plot_ttl_timeline, to_png
from cachelab.lab.views import hit_rate_chart, html_steps, svg_chart
from cachelab.lab.widgets import (controls, hit_rate_widget, lfu_widget, lru_widget, policy_walk_widget,
                              ttl_widget)


def hits(run):
    return sum(s.hit for s in run.steps)


def test_raising_ttl_past_the_gap_turns_misses_into_hits():
    widget = ttl_widget(ttl=1.0, gap=1.0)
    assert hits(widget.result) == 0
    controls(widget)["ttl"].value = 3.0
    assert hits(widget.result) == 5


def test_ttl_schedule_box_overrides_the_gap():
    widget = ttl_widget(ttl=2.0)
    box = controls(widget)["schedule"]
    box.value = "0 1 5 6"
    assert [s.time for s in widget.result.steps] == [0, 1, 5, 6]
    assert controls(widget)["gap"].disabled
    box.value = "0 oops"
    assert widget.result is None  # the error is printed, not raised


def test_bigger_lru_size_evicts_fewer_keys():
    widget = lru_widget("A B C A D B E", size=2)
    before = sum(s.evicted is not None for s in widget.result)
    controls(widget)["size"].value = 4
    after = sum(s.evicted is not None for s in widget.result)
    assert before == 5 and after == 1


def test_step_slider_walks_and_follows_a_new_sequence():
    widget = lru_widget("A B C A D B E", size=3)
    step = controls(widget)["step"]
    step.value = 4
    assert [s.key for s in widget.result] == ["A", "B", "C", "A"]
    controls(widget)["sequence"].value = "X Y"
    assert step.max == 2 and [s.key for s in widget.result] == ["X", "Y"]


def test_lfu_widget_shows_frequency_buckets():
    widget = lfu_widget("A B A C", size=2)
    assert [(row.label, row.keys) for row in widget.result[-1].state] == [("1x", ["C"]), ("2x", ["A"])]
    controls(widget)["size"].value = 3
    assert widget.result[-1].evicted is None


def test_hit_rate_widget_follows_size_policy_and_workload():
    widget = hit_rate_widget(size=10, workload="zipf", policy="LRU")
    c = controls(widget)
    small = widget.result.hit_ratio
    c["size"].value = 60
    assert widget.result.hit_ratio > small
    c["workload"].value = "loop"
    assert widget.result.hit_ratio == 0.0 and c["alpha"].disabled
    c["policy"].value = "RR"
    assert widget.result.hit_ratio > 0.1
    assert c["policy"].options == ("LRU", "LFU", "FIFO", "RR")


@pytest.mark.parametrize("plot, first, second", [
    (plot_hit_rates, (hit_rate_table("zipf", sizes=(5, 50)), ("LRU", 5, 0.2)),
     (hit_rate_table("loop", sizes=(5, 50)), ("RR", 50, 0.2))),
    (plot_ttl_timeline, (ttl_timeline(2.5, 1.0),), (ttl_timeline(1.0, 2.0),)),
    (plot_steps, (lfu_steps("A B A C", 2),), (lru_steps("D E F D", 2),)),
], ids=["hit-rates", "ttl", "steps"])
def test_a_reused_canvas_draws_what_a_fresh_figure_draws(plot, first, second):
    """Widgets redraw on one Canvas; nothing of the last picture may survive."""
    canvas = Canvas()
    plot(*first, ax=canvas)
    assert to_png(plot(*second, ax=canvas)) == to_png(plot(*second, ax=Canvas()))


# -- the views the widgets send: HTML step boxes and the SVG hit-rate chart -----

def test_step_boxes_name_the_result_and_the_evicted_key():
    view = html_steps(lru_steps("A B C A D", 3), upto=5)
    last_row = view.split("<tr")[-1]
    assert ">5. <b>D</b>" in last_row and ">miss<" in last_row and "evicted <b>B</b>" in last_row
    assert ">4. <b>A</b>" in view.split("<tr")[-2] and ">hit<" in view.split("<tr")[-2]


def test_step_boxes_stop_at_upto_but_keep_every_row():
    view = html_steps(lru_steps("A B C A D", 2), upto=2)
    assert view.count("<tr") == 5
    assert "evicted" not in view  # the first eviction is at step 3, not shown yet


def test_step_boxes_show_lfu_buckets_and_sieve_hand():
    lfu = html_steps(lfu_steps("A B A C", 2))
    assert "<b>1x</b>" in lfu and "<b>2x</b>" in lfu
    sieve = html_steps(policy_steps("SIEVE", "A B C A D", 3))
    assert "▸" in sieve and "the hand" in sieve
    assert "the hand" not in lfu  # the legend explains only the marks in use


def test_step_boxes_escape_keys():
    view = html_steps(policy_steps("LRU", ["<script>", "A&B"], 1))
    assert "<script>" not in view
    assert "&lt;script&gt;" in view and "evicted <b>&lt;script&gt;</b>" in view and "A&amp;B" in view


def test_hit_rate_chart_draws_every_policy_and_the_choice():
    table = hit_rate_table("zipf", sizes=(5, 50))
    chart = svg_chart(hit_rate_chart(table, chosen=("LFU", 50, 0.75)))
    assert chart.count("<polyline") == 4 and "LFU @ 50: 75%" in chart
    assert all(f">{policy}</text>" in chart for policy in table)
    bold = [line for line in chart.split("<polyline")[1:] if 'stroke-width="2.5"' in line]
    assert len(bold) == 1 and ">LFU</text>" in bold[0]


def test_walk_widget_names_a_policy_it_cannot_walk():
    with pytest.raises(ValueError, match="policy must be one of LRU, LFU, FIFO, RR, CLOCK"):
        policy_walk_widget(policy="MRU")


def test_ttl_widget_draws_the_timeline_as_svg():
    from unittest import mock

    with mock.patch("cachelab.lab.widgets.display") as display:
        ttl_widget(ttl=2.5, gap=1.0)
    (shown,), _ = display.call_args
    assert shown.data.startswith("<svg") and "hit (5)" in shown.data and "miss (3)" in shown.data


@pytest.mark.parametrize("size", [20, 21])  # on the chart's sizes, and between them
def test_hit_rate_widget_point_is_the_replay(size):
    from cachelab.lab.experiments import hit_rate

    widget = hit_rate_widget(size=size, workload="hotset", policy="RR", alpha=0.5)
    assert widget.result == hit_rate("hotset", size, "RR", alpha=0.5)
