"""Time one slider update of each experiment, without a browser.

    python benchmarks/bench_experiments.py [--repeat 15] [--nbval]

An update is what a widget does when a control moves: run the pure
experiment function, then build what the browser receives.  The step-through
views (LRU, LFU, the policies lab's walk) send HTML boxes and the hit-rate
chart sends SVG; the TTL timeline is still a matplotlib PNG on the widget's
offscreen Canvas.  It prints the median of each part and the total against
the 50 ms budget, and, in the same run, the total when the view is drawn
with matplotlib to PNG instead (the floor row is matplotlib with an empty
axes).  With --nbval it also times strict nbval over notebooks 02-05 and 08.
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
NOTEBOOKS = ["02-ttl-expiration", "03-lru-eviction", "04-lfu-eviction", "05-hit-rate-simulation",
             "08-eviction-policies-lab"]


def _hit_rates(table):
    """The hit-rate widget's data: one replay for the chosen point, and the table."""
    return ex.hit_rate("zipf", 20, "LRU"), table()


_tables = {}


def _cached_table():
    # The widget caches the table per (pattern, alpha): moving the size reuses it.
    if "zipf" not in _tables:
        _tables["zipf"] = ex.hit_rate_table("zipf")
    return _tables["zipf"]


def _chosen(data):
    return ("LRU", 20, data[0].hit_ratio)


# Each case: (name, compute(), view(data, canvas), matplotlib view or None).
# The widgets' defaults: ttl 2.5 s every 1 s; "A B C A D B E" in 3; SIEVE
# on "A B C A D B E A F G" in 4 at step 5; Zipf in a cache of 20.
CASES = [
    ("floor: empty axes", lambda: None, lambda _, c: plots.to_png(plots._axes(c, (6, 3))), None),
    ("TTL timeline", lambda: ex.ttl_timeline(2.5, 1.0),
     lambda run, c: plots.to_png(plots.plot_ttl_timeline(run, ax=c)), None),
    ("LRU steps", lambda: ex.lru_steps("A B C A D B E", 3),
     lambda steps, c: plots.html_steps(steps),
     lambda steps, c: plots.to_png(plots.plot_steps(steps, size=3, ax=c))),
    ("LFU steps", lambda: ex.lfu_steps("A B A C A D B E", 3),
     lambda steps, c: plots.html_steps(steps),
     lambda steps, c: plots.to_png(plots.plot_steps(steps, size=3, ax=c))),
    ("SIEVE walk", lambda: ex.policy_steps("SIEVE", "A B C A D B E A F G", 4),
     lambda steps, c: plots.html_steps(steps, upto=5),
     lambda steps, c: plots.to_png(plots.plot_policy_walk(steps, upto=5, ax=c))),
    ("hit rate, size moved", lambda: _hit_rates(_cached_table),
     lambda data, c: plots.svg_hit_rates(data[1], _chosen(data)),
     lambda data, c: plots.to_png(plots.plot_hit_rates(data[1], _chosen(data), ax=c))),
    ("hit rate, alpha moved", lambda: _hit_rates(lambda: ex.hit_rate_table("zipf")),
     lambda data, c: plots.svg_hit_rates(data[1], _chosen(data)),
     lambda data, c: plots.to_png(plots.plot_hit_rates(data[1], _chosen(data), ax=c))),
]


def _time(compute, view, repeat):
    canvas = plots.Canvas()  # each widget keeps one, as here
    view(compute(), canvas)
    computes, views = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        data = compute()
        middle = time.perf_counter()
        view(data, canvas)
        computes.append(middle - start)
        views.append(time.perf_counter() - middle)
    return statistics.median(computes) * 1000, statistics.median(views) * 1000


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
                        help="also time strict nbval over notebooks 02-05 and 08")
    args = parser.parse_args(argv)

    _time(CASES[0][1], CASES[0][2], 2)  # warm up: matplotlib's first figure loads fonts
    print(f"{'one slider update (ms)':24} {'compute':>8} {'view':>7} {'total':>7} "
          f"{'/budget':>8} {'matplotlib':>11} {'/budget':>8}")
    for name, compute, view, old in CASES:
        computed, viewed = _time(compute, view, args.repeat)
        total = computed + viewed
        line = (f"{name:24} {computed:8.1f} {viewed:7.1f} {total:7.1f} "
                f"{total / BUDGET_MS:7.2f}x")
        if old is not None:
            before = sum(_time(compute, old, args.repeat))
            line += f" {before:11.1f} {before / BUDGET_MS:7.2f}x"
        print(line)
    if args.nbval:
        print(f"strict nbval over notebooks {', '.join(n[:2] for n in NOTEBOOKS)}: {_nbval():.1f} s")


if __name__ == "__main__":
    main()
