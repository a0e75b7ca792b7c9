"""Sliders for the notebooks, one section per topic.

Each widget is an `ipywidgets.interactive` built on a pure function from
`cachelab`: moving a control re-runs that function, prints a line, draws
its view, and leaves the function's data in `widget.result` for tests.
Every view is an HTML or SVG string from `views.py`, which draws in
about a millisecond, so no widget waits on matplotlib.  Every list of
policies comes from the registry, `policies.POLICIES`.  `import cachelab`
does not import this module.
"""

import tempfile
from pathlib import Path

import ipywidgets as w
import numpy as np
from IPython.display import HTML, display

from . import experiments as ex
from ..caches import LRUCache
from ..memoize import cached
from .curves import cache_costs, cheapest, simulate_curve
from .datasets import Trace
from .ecommerce import run_performance_test
from .measure import compare_patterns, format_results
from ..policies import CLASSIC_POLICIES, POLICIES
from .simulation import SimResult, gaps_to_opt, hit_curve
from .store import PRODUCTS, USERS
from .views import (HIT, MISS, READ, WRITE, hit_rate_chart, html_gaps, html_steps, svg_bars,
                    svg_chart, svg_lines, svg_ttl_timeline)
from .workloads import SKEWED, WORKLOADS, make_trace, read_write_workload, write_oracle_general

__all__ = [
    "controls",
    "cost_widget",
    "ecommerce_widget",
    "hit_rate_widget",
    "lfu_widget",
    "lru_widget",
    "patterns_widget",
    "policy_lab_widget",
    "policy_walk_widget",
    "ttl_widget",
]


def controls(widget):
    """Map each control's description to the control, e.g. controls(wd)["size"]."""
    return {c.description: c for c in widget.kwargs_widgets}


# -- experiments: TTL expiration (notebook 02) --------------------------------

def ttl_widget(ttl=2.5, gap=1.0, schedule="", *, n_requests=8):
    """Sliders for TTL and gap, or a typed schedule of request times; draws the timeline as SVG."""
    ttl_slider = w.FloatSlider(value=ttl, min=0.5, max=6.0, step=0.5, description="ttl")
    gap_slider = w.FloatSlider(value=gap, min=0.5, max=3.0, step=0.5, description="gap")
    times = w.Text(value=schedule, description="schedule", placeholder="e.g. 0 1 2 6 7 (blank: use gap)",
                   continuous_update=False)

    def run(ttl, gap, schedule):
        gap_slider.disabled = bool(schedule.strip())
        try:
            result = ex.ttl_timeline(ttl, gap, n_requests=n_requests,
                                     schedule=schedule if schedule.strip() else None)
        except (TypeError, ValueError) as error:
            print(error)
            return None
        hits = sum(s.hit for s in result.steps)
        print(f"ttl {ttl:g} s: {hits} hits, {len(result.steps) - hits} misses")
        display(HTML(svg_ttl_timeline(result)))
        return result

    return w.interactive(run, ttl=ttl_slider, gap=gap_slider, schedule=times)


# -- any policy step by step (notebooks 03, 04 and 08) ------------------------------

def _step_through(policy, sequence, size, *, choices=(), at_end=True, interval=800):
    """Sequence, size and step controls (with play) over policy_steps(), drawn by html_steps().

    The policy is fixed, or picked from `choices`.  The step starts, and a
    new sequence restarts it, at the last step (`at_end`) or at the first.
    """
    if choices and policy not in choices:
        raise ValueError(f"policy must be one of {', '.join(choices)}, got {policy!r}")
    text = w.Text(value=sequence, description="sequence", continuous_update=False)
    size_slider = w.IntSlider(value=size, min=1, max=8, description="size")
    n = len(ex.parse_sequence(sequence))
    step = w.IntSlider(value=n if at_end else 1, min=1, max=n, description="step")
    play = w.Play(value=step.value, min=1, max=n, interval=interval, description="play")
    w.jslink((play, "value"), (step, "value"))
    chooser = (w.ToggleButtons(value=policy, options=choices, description="policy")
               if choices else None)

    # Registered before interactive's own observer, so the step is right when it redraws.
    def resize(change):
        try:
            n = len(ex.parse_sequence(change["new"]))
        except (TypeError, ValueError):
            return
        play.max = step.max = n
        step.value = n if at_end else 1

    text.observe(resize, names="value")

    def run(policy, sequence, size, step):
        try:
            steps = ex.policy_steps(policy, sequence, size)
        except (TypeError, ValueError) as error:
            print(error)
            return None
        now = steps[min(step, len(steps)) - 1]
        evicted = f", evicted {now.evicted}" if now.evicted is not None else ""
        print(f"{policy} step {now.step}: {now.key} {'hit' if now.hit else 'miss'}{evicted}")
        display(HTML(html_steps(steps, upto=now.step)))
        return steps[:now.step]

    widget = w.interactive(run, policy=chooser or w.fixed(policy), sequence=text,
                           size=size_slider, step=step)
    widget.children = (*([chooser] if chooser else []), text, size_slider, w.HBox([play, step]),
                       widget.out)
    return widget


def lru_widget(sequence="A B C A D B E", size=3):
    """A sequence box, a size slider and a step slider (with play) over lru_steps()."""
    return _step_through("LRU", sequence, size)


def lfu_widget(sequence="A B A C A D B E", size=3):
    """The LRU widget's controls over lfu_steps(); one row of boxes per use count."""
    return _step_through("LFU", sequence, size)


def policy_walk_widget(policy="SIEVE", sequence="A B C A D B E A F G", size=4):
    """A choice of every registered policy, and the step-through controls from the first step."""
    return _step_through(policy, sequence, size, choices=tuple(POLICIES), at_end=False,
                         interval=900)


# -- experiments: hit rate against cache size (notebook 05) --------------------

# Moving the size or policy reuses the table; only the workload or alpha rebuild it.
_table = cached(LRUCache(maxsize=32))(ex.hit_rate_table)


def hit_rate_widget(size=20, workload="zipf", policy="LRU", alpha=1.0, *, seed=0):
    """Size, workload, policy and Zipf alpha controls; prints the hit rate, charts every policy."""
    size_slider = w.IntSlider(value=size, min=1, max=100, description="size")
    workloads = w.Dropdown(value=workload, options=WORKLOADS, description="workload")
    policies = w.ToggleButtons(value=policy, options=CLASSIC_POLICIES, description="policy")
    alpha_slider = w.FloatSlider(value=alpha, min=0.0, max=2.0, step=0.1, description="alpha")

    def run(size, workload, policy, alpha):
        alpha_slider.disabled = workload not in SKEWED
        curves = _table(workload, alpha=alpha, seed=seed)
        curve = curves[policy]
        if size in curve.sizes:  # the table has this point: the same replay, already done
            hits = int(curve.hits[list(curve.sizes).index(size)])
            result = SimResult(hits, curve.requests - hits)
        else:
            result = ex.hit_rate(workload, size, policy, alpha=alpha, seed=seed)
        shape = f"{workload} alpha={alpha:g}" if not alpha_slider.disabled else workload
        print(f"{policy}, size {size}, {shape}: hit rate {result.hit_ratio:.1%} "
              f"({result.hits} hits, {result.misses} misses)")
        chart = hit_rate_chart(curves, (policy, size, result.hit_ratio), title=f"workload: {shape}")
        display(HTML(svg_chart(chart)))
        return result

    return w.interactive(run, size=size_slider, workload=workloads, policy=policies,
                         alpha=alpha_slider)


# -- patterns: the e-commerce demo and the write patterns (notebooks 06 and 07) --

def ecommerce_widget(db_delay=0.1, cache_ttl=60, product_id=1, user_id=101, *, clock=None):
    """Sliders for database delay and TTL, dropdowns for product and user; times misses and hits.

    Timings are real unless `clock=` (e.g. a FakeClock) runs the demo in simulated time.
    """
    delay = w.FloatSlider(value=db_delay, min=0.0, max=0.3, step=0.05, description="db_delay",
                          continuous_update=False)
    ttl = w.IntSlider(value=cache_ttl, min=5, max=120, step=5, description="cache_ttl",
                      continuous_update=False)
    product = w.Dropdown(options=[(p["name"], i) for i, p in PRODUCTS.items()], value=product_id,
                         description="product")
    user = w.Dropdown(options=[(u["name"], i) for i, u in USERS.items()], value=user_id,
                      description="user")

    def run(db_delay, cache_ttl, product_id, user_id):
        results, stats = run_performance_test(product_id, user_id, db_delay, cache_ttl,
                                              clock=clock, out=None)
        for r in results:
            print(f"{r['test']:16} miss {r['miss_time'] * 1000:7.1f} ms   hit {r['hit_time'] * 1000:6.3f} ms"
                  f"   database reads: {r['db_reads']}")
        print(f"cache hit rate {stats['hit_rate']}%")
        display(HTML(svg_bars([r["test"] for r in results],
                              [("miss (database)", MISS, [r["miss_time"] * 1000 for r in results]),
                               ("hit (cache)", HIT, [r["hit_time"] * 1000 for r in results])],
                              title="time per lookup", unit=" ms", log=True)))
        return results

    return w.interactive(run, db_delay=delay, cache_ttl=ttl, product_id=product, user_id=user)


def patterns_widget(read_fraction=0.9, db_delay=0.05, ttl=30, *, n_ops=1000, seed=0):
    """Sliders for the read share, database delay and TTL; compares every pattern in simulated time."""
    share = w.FloatSlider(value=read_fraction, min=0.0, max=1.0, step=0.1, description="reads",
                          continuous_update=False)
    delay = w.FloatSlider(value=db_delay, min=0.01, max=0.3, step=0.01, description="db_delay",
                          continuous_update=False)
    ttl_slider = w.IntSlider(value=ttl, min=1, max=120, description="ttl", continuous_update=False)

    def run(read_fraction, db_delay, ttl):
        results = compare_patterns(read_write_workload(n_ops, read_fraction, seed=seed),
                                   db_delay=db_delay, ttl=ttl)
        print(format_results(results))
        names = [r.pattern for r in results]
        display(HTML(
            svg_bars(names, [("read", READ, [r.read_ms for r in results]),
                             ("write", WRITE, [r.write_ms for r in results])],
                     title="mean latency", unit=" ms")
            + svg_bars(names, [("reads", READ, [r.db_reads for r in results]),
                               ("writes", WRITE, [r.db_writes for r in results])],
                       title="database queries")))
        return results

    return w.interactive(run, read_fraction=share, db_delay=delay, ttl=ttl_slider)


# -- policies lab: curves against OPT (notebook 08) ---------------------------

LAB_SIZES = (5, 10, 25, 50, 100, 150, 200, 300)


_LAB_FILES = []  # the folder of the lab's trace files, made on first use, removed at exit


def _lab_trace(workload, alpha, seed, n_requests, n_keys):
    """The lab's trace, with the oracleGeneral file libCacheSim reads, written once for every policy."""
    if not _LAB_FILES:
        _LAB_FILES.append(tempfile.TemporaryDirectory(prefix="cachelab-lab-"))
    keys = make_trace(workload, n_requests, n_keys, alpha, seed=seed)
    name = f"{workload}-{alpha}-{seed}-{n_requests}-{n_keys}.bin"
    return Trace(workload, keys, None, None, write_oracle_general(keys, Path(_LAB_FILES[0].name) / name))


_lab_traces = cached(LRUCache(maxsize=8))(_lab_trace)


def _lab_curve(workload, alpha, policy, seed, n_requests, n_keys):
    # In libCacheSim's C where it gives cachelab's hits exactly, so a slider moves within
    # its budget; RR (seeded here) and W-TinyLFU replay cachelab's classes.
    trace = _lab_traces(workload, alpha, seed, n_requests, n_keys)
    if policy == "RR":
        return hit_curve(policy, trace.keys, LAB_SIZES, seed=seed)
    return simulate_curve(policy, trace, LAB_SIZES)


# One curve per (workload, alpha, policy): choosing another policy computes only its curve.
_lab_curves = cached(LRUCache(maxsize=64))(_lab_curve)


def policy_lab_widget(workload="zipf", alpha=1.0, size=50, policies=("LRU", "SIEVE", "S3-FIFO"),
                      *, seed=0, n_requests=10_000, n_keys=400):
    """Workload, alpha, size and policy controls; prints each hit ratio and gap, charts the curves."""
    workloads = w.Dropdown(value=workload, options=WORKLOADS, description="workload")
    alpha_slider = w.FloatSlider(value=alpha, min=0.0, max=1.5, step=0.1, description="alpha",
                                 continuous_update=False)
    size_slider = w.SelectionSlider(value=size, options=LAB_SIZES, description="size")
    chooser = w.SelectMultiple(value=tuple(policies), options=tuple(POLICIES),
                               description="policies", rows=len(POLICIES))

    def run(workload, alpha, size, policies):
        alpha_slider.disabled = workload not in SKEWED
        shown = {name: _lab_curves(workload, alpha, name, seed, n_requests, n_keys)
                 for name in (*policies, "OPT")}
        gaps = gaps_to_opt(shown)
        at = LAB_SIZES.index(size)
        print(f"{workload}, size {size}: OPT {shown['OPT'].hit_ratios[at]:.1%}; "
              + ", ".join(f"{n} {shown[n].hit_ratios[at]:.1%} (-{gaps[n][at]:.1%})" for n in policies))
        display(HTML(svg_chart(hit_rate_chart(shown, at=size, title=workload))
                     + html_gaps(shown, size)))
        return shown

    return w.interactive(run, workload=workloads, alpha=alpha_slider, size=size_slider,
                         policies=chooser)


# -- sizing a cache: what each size costs (notebook 14) ------------------------

def cost_widget(curve, *, requests_per_second=1000.0, entry_bytes=4096, memory_price=10.0, read_price=0.25):
    """Price sliders over one hit-ratio curve: memory a month against the database reads it saves.

    Prints the cheapest size and draws the monthly cost of every size on the
    curve, that size marked; `widget.result` is the CacheCosts.
    """
    memory = w.FloatLogSlider(value=memory_price, base=10, min=-1, max=2.5, step=0.05,
                              description="$/GB-month", readout_format=".3g")
    reads = w.FloatLogSlider(value=read_price, base=10, min=-2, max=1.5, step=0.05,
                             description="$/M reads", readout_format=".3g")
    rate = w.FloatLogSlider(value=requests_per_second, base=10, min=0, max=5, step=0.05,
                            description="requests/s", readout_format=".3g")

    def run(memory_price, read_price, requests_per_second):
        costs = cache_costs(curve, requests_per_second=requests_per_second, entry_bytes=entry_bytes,
                            memory_price=memory_price, read_price=read_price)
        size, total = cheapest(costs)
        at = int(np.searchsorted(costs.sizes, size))
        print(f"cheapest: {size:,} entries ({size * entry_bytes / 1e9:.2f} GB), ${total:,.2f} a month: "
              f"memory ${costs.memory[at]:,.2f} + database ${costs.database[at]:,.2f} "
              f"({costs.reads_per_second[at]:,.1f} reads/s left)")
        display(HTML(svg_lines(costs.sizes.tolist(), {"total": costs.total.tolist(),
                                                      "memory": costs.memory.tolist(),
                                                      "database reads": costs.database.tolist()},
                               title=f"{curve.policy}: cost of each size", xlabel="cache size (entries)",
                               ylabel="$ a month", marker=(size, "cheapest"))))
        return costs

    return w.interactive(run, memory_price=memory, read_price=reads, requests_per_second=rate)
