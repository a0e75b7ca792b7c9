"""Views of the stampede simulator for notebook 10: SVG charts, text tables and sliders.

The charts are SVG strings drawn by `cachelab.lab.views` from what
`cachelab.lab.stampede_sim` returns, so a slider update costs a simulation
and some string joins (no matplotlib).  Each widget is an `ipywidgets.interactive` over a pure
function; `widget.result` holds that function's data for tests.
`import cachelab` does not import this module.
"""

from . import stampede_sim as sim
from .views import svg_lines, svg_panels

__all__ = [
    "avalanche_widget",
    "cold_start_widget",
    "cures_widget",
    "format_results",
    "stampede_widget",
    "svg_compare",
    "svg_db_load",
    "svg_sweep",
]

def format_results(results):
    """A text table of SimResults, one row per strategy (or per client count)."""
    lines = [f"{'':14} {'loads/expiry':>12} {'max at once':>11} {'p50 ms':>7} {'p99 ms':>7} "
             f"{'stale reads':>11} {'waits':>6}"]
    for name, r in results.items():
        lines.append(f"{str(name):14} {r.loads_per_expiry:12.2f} {r.max_concurrent:11d} "
                     f"{r.p50 * 1000:7.0f} {r.p99 * 1000:7.0f} {r.stale_reads:11d} {r.waits:6d}")
    return "\n".join(lines)


def svg_compare(results, *, title=""):
    """Three panels for compare()'s results: loads per expiry, p99 latency (ms), stale reads."""
    return svg_panels({
        "DB loads per expiry": {n: r.loads_per_expiry for n, r in results.items()},
        "p99 latency (ms)": {n: r.p99 * 1000 for n, r in results.items()},
        "stale reads": {n: r.stale_reads for n, r in results.items()},
    }, title=title)


def svg_sweep(sweeps, *, title="DB loads per expiry"):
    """{strategy: sweep()} as lines of loads per expiry against clients, both on log scales.

    A line that lies on an earlier one (single-flight and SWR both make one
    load per expiry) is drawn dashed on top, so both stay visible.
    """
    import math

    clients = list(next(iter(sweeps.values())))
    lines = {name: [math.log10(max(runs[c].loads_per_expiry, 1.0)) for c in clients]
             for name, runs in sweeps.items()}
    seen, dashed = [], []
    for name, ys in lines.items():
        if any(all(abs(a - b) < 0.02 for a, b in zip(ys, other)) for other in seen):
            dashed.append(name)
        seen.append(ys)
    top = max(1, math.ceil(max(max(ys) for ys in lines.values())))
    return svg_lines([math.log10(c) for c in clients], lines, title=title, xlabel="clients",
                     ylabel="loads per expiry", xticks=[(math.log10(c), f"{c:,}") for c in clients],
                     yticks=[(k, f"{10 ** k:,}") for k in range(top + 1)], dashed=dashed)


def svg_db_load(result, *, bin=1.0):
    """The database load over time of one simulate() run."""
    times, counts = sim.load_timeline(result, bin=bin)
    return svg_lines(times, {result.strategy: counts}, title=f"{result.strategy}: DB loads started "
                     f"per {bin:g} s", xlabel="time (s)", ylabel="loads")


# -- widgets ----------------------------------------------------------------------------------------

CLIENTS = (1, 3, 10, 30, 100, 300, 1000)


def _display(svg):
    from IPython.display import HTML, display

    display(HTML(svg))


def _controls(clients, delta, beta, jitter):
    import ipywidgets as w

    return dict(
        clients=w.SelectionSlider(value=clients, options=CLIENTS, description="clients"),
        delta=w.FloatSlider(value=delta, min=0.1, max=3.0, step=0.1, description="delta (s)",
                            continuous_update=False),
        beta=w.FloatSlider(value=beta, min=0.25, max=4.0, step=0.25, description="beta",
                           continuous_update=False),
        jitter=w.IntSlider(value=jitter, min=0, max=50, step=5, description="jitter %",
                           continuous_update=False),
    )


def stampede_widget(strategy="none", clients=100, delta=0.5, beta=1.0, jitter=10, *, seed=0,
                    duration=3000.0):
    """Strategy, clients, delta, beta and jitter controls over simulate(); charts the DB load.

    Runs `duration` simulated seconds (about 270 expiries of a 10 s TTL by
    default): a minute's 6 expiries are too few to compare strategies by.
    """
    import ipywidgets as w

    choice = w.Dropdown(value=strategy, options=sim.STRATEGIES, description="strategy")

    def run(strategy, clients, delta, beta, jitter):
        result = sim.simulate(strategy, clients=clients, delta=delta, beta=beta, jitter=jitter / 100,
                              seed=seed, duration=duration)
        print(format_results({strategy: result}))
        _display(svg_db_load(result))
        return result

    return w.interactive(run, strategy=choice, **_controls(clients, delta, beta, jitter))


def cures_widget(clients=100, delta=0.5, beta=1.0, jitter=10, *, seed=0, duration=3000.0):
    """The same controls over compare(): every strategy on the same requests, side by side."""
    import ipywidgets as w

    def run(clients, delta, beta, jitter):
        results = sim.compare(clients=clients, delta=delta, beta=beta, jitter=jitter / 100, seed=seed,
                              duration=duration)
        print(format_results(results))
        _display(svg_compare(results, title=f"{clients} clients, delta {delta:g} s"))
        return results

    return w.interactive(run, **_controls(clients, delta, beta, jitter))


def avalanche_widget(jitter=10, *, n_keys=10_000, ttl=300.0, seed=0):
    """A jitter slider over avalanche(): the reload wave with that jitter against none."""
    import ipywidgets as w

    flat = sim.avalanche(n_keys, ttl, 0.0, seed=seed)
    slider = w.IntSlider(value=jitter, min=0, max=50, step=5, description="jitter %",
                         continuous_update=False)

    def run(jitter):
        spread = sim.avalanche(n_keys, ttl, jitter / 100, seed=seed)
        print(f"peak DB loads per second: {flat.peak} without jitter, {spread.peak} with "
              f"+-{jitter}% ({flat.peak / spread.peak:.1f}x lower)")
        _display(svg_lines(flat.times, {"no jitter": flat.loads, f"+-{jitter}%": spread.loads},
                           title=f"{n_keys:,} keys loaded at once, TTL {ttl:g} s",
                           xlabel="time (s)", ylabel="DB loads per second"))
        return spread

    return w.interactive(run, jitter=slider)


def cold_start_widget(prewarm_keys=200, *, seed=0):
    """A slider for how many top keys to pre-warm; charts the miss ratio of the first minute."""
    import ipywidgets as w

    cold = sim.cold_start(0, seed=seed)
    slider = w.IntSlider(value=prewarm_keys, min=0, max=1000, step=50, description="pre-warm",
                         continuous_update=False)

    def run(prewarm_keys):
        warm = sim.cold_start(prewarm_keys, seed=seed)
        print(f"miss ratio in the first minute: {cold.miss_ratio:.1%} cold, {warm.miss_ratio:.1%} "
              f"with the top {prewarm_keys} keys pre-warmed")
        _display(svg_lines(cold.times, {"cold": [100 * r for r in cold.ratios],
                                        f"top {prewarm_keys} warm": [100 * r for r in warm.ratios]},
                           title="miss ratio after a restart", xlabel="time (s)",
                           ylabel="miss ratio (%)"))
        return warm

    return w.interactive(run, prewarm_keys=slider)
