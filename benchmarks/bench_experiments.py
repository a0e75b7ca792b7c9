"""Time one kernel-side update of every slider in the course, without a browser.

    python benchmarks/bench_experiments.py [--only 05] [--values 12]

An update is what the kernel does when a control moves: `interactive`
re-runs the widget's function, which computes, prints and builds the view
it sends (HTML, SVG or a PNG).  Each control is moved through values it
has not had before, after clearing the widgets' memo tables, so no update
is served from a cache.  It prints the median and the worst update per
control (wall clock), the median CPU time of the process, and the budget: 16 ms (one frame at 60 Hz) for the guide's
four experiments, notebooks 02-05, and 50 ms for every other slider.
The machine's load average is printed first: the CPU is often shared.
"""

import argparse
import contextlib
import io
import os
import statistics
import time

from cachelab import FakeClock
from cachelab.lab import widgets

FRAME_MS = 16.0   # notebooks 02-05
SLIDER_MS = 50.0  # every other slider


def _steps(n):
    return list(range(1, n + 1))


def _alphas(start, stop, skip):
    return [round(a / 10, 1) for a in range(start, stop + 1) if round(a / 10, 1) != skip]


def _cost_widget():
    """Notebook 14's price sliders over an LRU curve at 200 sizes (a Zipf trace: no data folder needed)."""
    from cachelab.lab.simulation import lru_hit_curve
    from cachelab.lab.workloads import make_trace

    curve = lru_hit_curve(make_trace("zipf", 100_000, 20_000, alpha=0.8, seed=0),
                          [round(20_000 * k / 199) for k in range(200)])
    return widgets.cost_widget(curve, requests_per_second=100.0, entry_bytes=40_000)


# Each row: notebook, widget name, factory, control, values it moves through (each new).
# A new notebook's sliders are added as more rows.
SLIDERS = [
    ("02", "ttl_widget", lambda: widgets.ttl_widget(ttl=1.0, gap=1.0), "ttl",
     [0.5, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0]),
    ("02", "ttl_widget", lambda: widgets.ttl_widget(ttl=1.0, gap=1.0), "gap",
     [0.5, 1.5, 2.0, 2.5, 3.0]),
    ("02", "ttl_widget", lambda: widgets.ttl_widget(ttl=1.0, gap=1.0), "schedule",
     ["0 1 2 6 7", "0 0.5 4 4.5", "0 3 3.5 9", "1 2 3 4 5 6", "0 5 10"]),
    ("03", "lru_widget", lambda: widgets.lru_widget("A B C A D B E", size=3), "size",
     [1, 2, 4, 5, 6, 7, 8]),
    ("03", "lru_widget", lambda: widgets.lru_widget("A B C A D B E", size=3), "step",
     _steps(6)),
    ("03", "lru_widget", lambda: widgets.lru_widget("A B C A D B E", size=3), "sequence",
     ["A B C D A B C D", "A A B C", "X Y Z X W Y", "A B C A D B E F G A"]),
    ("04", "lfu_widget", lambda: widgets.lfu_widget("A B A C A D B E", size=3), "size",
     [1, 2, 4, 5, 6, 7, 8]),
    ("04", "lfu_widget", lambda: widgets.lfu_widget("A B A C A D B E", size=3), "step",
     _steps(7)),
    ("05", "hit_rate_widget", lambda: widgets.hit_rate_widget(size=20), "size",
     [5, 9, 13, 27, 33, 41, 50, 64, 77, 88, 95, 100]),
    ("05", "hit_rate_widget", lambda: widgets.hit_rate_widget(size=20), "alpha",
     _alphas(0, 20, skip=1.0)),
    ("05", "hit_rate_widget", lambda: widgets.hit_rate_widget(size=20), "policy",
     ["LFU", "FIFO", "RR"]),
    ("05", "hit_rate_widget", lambda: widgets.hit_rate_widget(size=20), "workload",
     ["uniform", "zipf+scan", "loop", "hotset"]),
    ("06", "ecommerce_widget (FakeClock)", lambda: widgets.ecommerce_widget(clock=FakeClock()),
     "db_delay", [0.0, 0.05, 0.15, 0.2, 0.25, 0.3]),
    ("06", "ecommerce_widget (FakeClock)", lambda: widgets.ecommerce_widget(clock=FakeClock()),
     "cache_ttl", [5, 10, 20, 30, 90, 120]),
    ("07", "patterns_widget", lambda: widgets.patterns_widget(), "reads",
     [0.0, 0.1, 0.3, 0.5, 0.7, 1.0]),
    ("07", "patterns_widget", lambda: widgets.patterns_widget(), "ttl", [1, 5, 10, 60, 120]),
    ("08", "policy_lab_widget", lambda: widgets.policy_lab_widget(), "size",
     [5, 10, 25, 100, 150, 200, 300]),
    ("08", "policy_lab_widget", lambda: widgets.policy_lab_widget(), "alpha",
     _alphas(0, 15, skip=1.0)),
    ("08", "policy_lab_widget", lambda: widgets.policy_lab_widget(), "policies",
     [("LRU",), ("LRU", "ARC"), ("CLOCK", "ARC"), ("FIFO", "S3-FIFO")]),
    ("08", "policy_lab_widget", lambda: widgets.policy_lab_widget(), "workload",
     ["uniform", "zipf+scan", "loop", "hotset"]),
    ("08", "policy_walk_widget", lambda: widgets.policy_walk_widget(), "step", _steps(10)[1:]),
    ("08", "policy_walk_widget", lambda: widgets.policy_walk_widget(), "policy",
     ["LRU", "LFU", "FIFO", "RR", "CLOCK", "ARC", "S3-FIFO", "W-TinyLFU"]),
    ("14", "cost_widget", _cost_widget, "$/GB-month", [1.0, 3.0, 30.0, 100.0, 300.0]),
    ("14", "cost_widget", _cost_widget, "$/M reads", [0.01, 0.1, 1.0, 3.0, 10.0]),
    ("14", "cost_widget", _cost_widget, "requests/s", [10.0, 1000.0, 10000.0, 100000.0]),
]


def _forget_memos():
    """Clear every memo table in cachelab.lab.widgets, so each timed update computes afresh."""
    for value in vars(widgets).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


def time_control(factory, control, values):
    """Return (wall, cpu) milliseconds of each update as `control` moves through `values`."""
    with contextlib.redirect_stdout(io.StringIO()):
        _forget_memos()
        widget = factory()
        slider = widgets.controls(widget)[control]
        walls, cpus = [], []
        for value in values:
            start, cpu = time.perf_counter(), time.process_time()
            slider.value = value
            walls.append((time.perf_counter() - start) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
    return walls, cpus


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="time only this notebook's sliders, e.g. 05")
    args = parser.parse_args(argv)

    one, five, _ = os.getloadavg()
    print(f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores")
    time_control(*SLIDERS[0][2:])  # warm up: first imports, first figure
    print(f"{'nb':3} {'widget':30} {'control':10} {'n':>3} {'median':>7} {'worst':>7} "
          f"{'cpu':>7} {'budget':>7}  ok")
    missed = 0
    for notebook, name, factory, control, values in SLIDERS:
        if args.only and notebook != args.only:
            continue
        times, cpus = time_control(factory, control, values)
        budget = FRAME_MS if notebook in ("02", "03", "04", "05") else SLIDER_MS
        median = statistics.median(times)
        ok = median <= budget
        missed += not ok
        print(f"{notebook:3} {name:30} {control:10} {len(times):3} {median:7.1f} "
              f"{max(times):7.1f} {statistics.median(cpus):7.1f} {budget:7.0f}  "
              f"{'yes' if ok else 'NO'}")
    print(f"{missed} control(s) over budget" if missed else "every control within budget")


if __name__ == "__main__":
    main()
