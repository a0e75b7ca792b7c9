"""Notebook 10's views: the sliders re-run the simulator's pure functions, the charts draw their data."""

import re

from cachelab.lab import stampede_sim as sim
from cachelab.lab import stampede_views as views


def controls(widget):
    return {c.description: c for c in widget.kwargs_widgets}


def test_stampede_widget_reruns_simulate_on_every_move():
    wd = views.stampede_widget("none", clients=10)
    assert wd.result == sim.simulate("none", clients=10, delta=0.5, beta=1.0, jitter=0.1,
                                     duration=3000.0)
    controls(wd)["clients"].value = 1000
    assert wd.result.loads_per_expiry > 100
    controls(wd)["strategy"].value = "single-flight"
    assert wd.result.strategy == "single-flight" and wd.result.loads_per_expiry == 1.0
    controls(wd)["delta (s)"].value = 2.0
    assert wd.result.delta == 2.0


def test_cures_widget_compares_every_strategy():
    wd = views.cures_widget(clients=100)
    assert set(wd.result) == set(sim.STRATEGIES)
    before = wd.result["xfetch"].early
    controls(wd)["beta"].value = 3.0  # earlier recomputes: more of them
    assert wd.result["xfetch"].early > before
    controls(wd)["jitter %"].value = 0
    assert wd.result["jitter"].loads == wd.result["none"].loads  # no jitter: the same run


def test_avalanche_and_cold_start_widgets():
    wd = views.avalanche_widget(10, n_keys=2000)
    ten = wd.result.peak
    controls(wd)["jitter %"].value = 0
    assert wd.result.peak > 10 * ten
    wd = views.cold_start_widget(0)
    cold = wd.result.miss_ratio
    controls(wd)["pre-warm"].value = 500
    assert wd.result.miss_ratio < cold and wd.result.prewarmed == 500


def test_format_results_has_one_row_per_run():
    text = views.format_results(sim.compare(["none", "swr"], clients=100))
    lines = text.splitlines()
    assert len(lines) == 3 and lines[1].split()[0] == "none" and lines[2].split()[0] == "swr"
    assert lines[1].split()[1] == "49.60"


def test_svg_charts_draw_the_data():
    svg = views.svg_lines([0, 1, 2], {"a": [0, 5, 10], "b": [1, 1, 1]}, title="t")
    assert svg.startswith("<svg") and svg.count("<polyline") == 2 and ">a<" in svg
    # The top of the axis is a round number at or above the largest value.
    assert ">10<" in svg
    bars = views.svg_compare(sim.compare(["none", "single-flight"], clients=100))
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', bars)]
    assert len(widths) == 6  # two strategies x three panels
    assert widths[0] > 10 * widths[1]  # none's loads per expiry dwarf single-flight's


def test_a_sweep_line_lying_on_another_is_drawn_dashed_on_top():
    sweeps = {name: sim.sweep(name, clients=(1, 10, 100)) for name in ("none", "single-flight", "swr")}
    svg = views.svg_sweep(sweeps)
    lines = re.findall(r'<polyline [^>]*/>', svg)
    assert len(lines) == 3 and "stroke-dasharray" in lines[-1]  # swr, drawn last
    assert all("stroke-dasharray" not in line for line in lines[:2])
