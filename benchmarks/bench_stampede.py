"""Time notebook 10's slider updates, without a browser.

    python benchmarks/bench_stampede.py [--repeat 3]

An update is what a widget does when a control moves: run the pure
function (simulate, compare, avalanche, cold_start), format its table and
build the SVG the browser receives.  Each control is moved across its
range, one step at a time, from the widget's defaults; the script prints
the median and the slowest update of each widget against the 50 ms budget,
for settings seen before and for first visits (which also draw the arrivals).
"""

import argparse
import statistics
import time

from cachelab.lab import stampede_sim as sim
from cachelab.lab import stampede_views as views

BUDGET_MS = 50.0
DEFAULTS = dict(clients=100, delta=0.5, beta=1.0, jitter=10)
RANGES = dict(clients=views.CLIENTS, delta=[0.1, 0.5, 1.0, 1.5, 2.0, 3.0],
              beta=[0.25, 0.5, 1.0, 2.0, 4.0], jitter=[0, 10, 20, 50])


def _stampede(strategy, clients, delta, beta, jitter):
    result = sim.simulate(strategy, clients=clients, delta=delta, beta=beta, jitter=jitter / 100)
    return views.format_results({strategy: result}), views.svg_db_load(result)


def _cures(clients, delta, beta, jitter):
    results = sim.compare(clients=clients, delta=delta, beta=beta, jitter=jitter / 100)
    return views.format_results(results), views.svg_compare(results)


_flat = sim.avalanche(10_000, 300.0, 0.0)


def _avalanche(jitter):
    spread = sim.avalanche(10_000, 300.0, jitter / 100)
    return views.svg_lines(_flat.times, {"no jitter": _flat.loads, "jitter": spread.loads})


_cold = sim.cold_start(0)


def _cold_start(prewarm_keys):
    warm = sim.cold_start(prewarm_keys)
    return views.svg_lines(_cold.times, {"cold": _cold.ratios, "warm": warm.ratios})


def _moves():
    """(widget, update) for each control of each widget moved over its range."""
    for name, values in RANGES.items():
        for value in values:
            params = dict(DEFAULTS, **{name: value})
            yield "cures (all strategies)", lambda p=params: _cures(**p)
            for strategy in sim.STRATEGIES:
                yield "one strategy", lambda p=params, s=strategy: _stampede(s, **p)
    for strategy in sim.STRATEGIES:
        yield "one strategy", lambda s=strategy: _stampede(s, **DEFAULTS)
    for jitter in range(0, 55, 5):
        yield "avalanche", lambda j=jitter: _avalanche(j)
    for keys in range(0, 1050, 50):
        yield "cold start", lambda k=keys: _cold_start(k)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    times, firsts = {}, {}
    for widget, update in _moves():
        start = time.perf_counter()
        update()  # a setting's first visit also generates its arrivals (kept for the next ones)
        firsts.setdefault(widget, []).append((time.perf_counter() - start) * 1000)
        best = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            update()
            best.append(time.perf_counter() - start)
        times.setdefault(widget, []).append(statistics.median(best) * 1000)
    print(f"{'slider update (ms)':24} {'updates':>7} {'median':>7} {'/budget':>8} {'slowest':>8} "
          f"{'first visits: median':>21} {'slowest':>8}")
    for widget, ms in times.items():
        median = statistics.median(ms)
        print(f"{widget:24} {len(ms):7d} {median:7.1f} {median / BUDGET_MS:7.2f}x {max(ms):8.1f} "
              f"{statistics.median(firsts[widget]):21.1f} {max(firsts[widget]):8.1f}")


if __name__ == "__main__":
    main()
