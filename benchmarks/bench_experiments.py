"""Time one slider update of each experiment, without a browser.

    python benchmarks/bench_experiments.py [--repeat 15] [--nbval]

An update is what a widget does when a control moves: run the pure
experiment function, redraw its plot on the widget's offscreen Canvas,
and render it to the PNG the browser receives.  It prints the median of
each part, the total against the 50 ms budget and against the floor
(matplotlib redrawing an empty axes of the same size, in the same run),
and, for comparison, the total when every update makes a new figure.
With --nbval it also times strict nbval over notebooks 02-05.
"""

import argparse
import pathlib
import statistics
import subprocess
import sys
import time

from cachelab import experiments as ex
from cachelab import plots

BUDGET_MS = 50.0
ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = ["02-ttl-expiration", "03-lru-eviction", "04-lfu-eviction", "05-hit-rate-simulation"]


# Each case: (name, compute(), draw(data, ax)).  The widgets' defaults:
# ttl 2.5 s every 1 s; "A B C A D B E" in 3; Zipf in a cache of 20.
_table = {}


def _cached_table():
    if "zipf" not in _table:
        _table["zipf"] = ex.hit_rate_table("zipf")
    return _table["zipf"]


CASES = [
    # The floor: matplotlib alone, an empty axes of the same size, drawn to PNG.
    ("floor: empty axes", lambda: None, lambda _, ax: plots._axes(ax, (6, 3))),
    ("TTL timeline", lambda: ex.ttl_timeline(2.5, 1.0),
     lambda run, ax: plots.plot_ttl_timeline(run, ax=ax)),
    ("LRU steps", lambda: ex.lru_steps("A B C A D B E", 3),
     lambda steps, ax: plots.plot_steps(steps, size=3, ax=ax)),
    ("LFU steps", lambda: ex.lfu_steps("A B A C A D B E", 3),
     lambda steps, ax: plots.plot_steps(steps, size=3, ax=ax)),
    ("hit rate, size moved", lambda: (ex.hit_rate("zipf", 20, "LRU"), _cached_table()),
     lambda data, ax: plots.plot_hit_rates(data[1], ("LRU", 20, data[0].hit_ratio), ax=ax)),
    ("hit rate, alpha moved", lambda: (ex.hit_rate("zipf", 20, "LRU"), ex.hit_rate_table("zipf")),
     lambda data, ax: plots.plot_hit_rates(data[1], ("LRU", 20, data[0].hit_ratio), ax=ax)),
]


def _time(case, repeat, fresh):
    _, compute, draw = case
    canvas = plots.Canvas()  # each widget keeps one, as here
    plots.to_png(draw(compute(), canvas))
    computes, draws = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        data = compute()
        middle = time.perf_counter()
        plots.to_png(draw(data, plots.OFFSCREEN if fresh else canvas))
        computes.append(middle - start)
        draws.append(time.perf_counter() - middle)
    return statistics.median(computes) * 1000, statistics.median(draws) * 1000


def _nbval():
    paths = [f"notebooks/{name}.ipynb" for name in NOTEBOOKS]
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", *paths], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--nbval", action="store_true",
                        help="also time strict nbval over notebooks 02-05")
    args = parser.parse_args(argv)

    _time(CASES[0], 2, fresh=True)  # warm up: matplotlib's first figure loads fonts
    print(f"{'one slider update (ms)':24} {'compute':>8} {'draw+png':>9} {'total':>7} "
          f"{'/budget':>8} {'/floor':>7} {'new figure':>11}")
    floor = None
    for case in CASES:
        compute, draw = _time(case, args.repeat, fresh=False)
        total = compute + draw
        floor = floor or total
        fresh = sum(_time(case, args.repeat, fresh=True))
        print(f"{case[0]:24} {compute:8.1f} {draw:9.1f} {total:7.1f} "
              f"{total / BUDGET_MS:7.2f}x {total / floor:6.2f}x {fresh:11.1f}")
    if args.nbval:
        print(f"strict nbval over notebooks 02-05: {_nbval():.1f} s")


if __name__ == "__main__":
    main()
