"""Views of the stampede simulator for notebook 10: SVG charts, text tables and sliders.

The charts are SVG strings drawn from what `cachelab.stampede_sim`
returns, so a slider update costs a simulation and some string joins
(no matplotlib).  Each widget is an `ipywidgets.interactive` over a pure
function; `widget.result` holds that function's data for tests.
`import cachelab` does not import this module.
"""

import html

from . import stampede_sim as sim

__all__ = [
    "avalanche_widget",
    "cold_start_widget",
    "cures_widget",
    "format_results",
    "stampede_widget",
    "svg_bars",
    "svg_compare",
    "svg_db_load",
    "svg_lines",
    "svg_sweep",
]

_COLOURS = ("#c44e52", "#4c72b0", "#55a868", "#8172b2", "#ccb974", "#64b5cd", "#dd8452")


def _svg_open(width, height, title):
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="11">',
            f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-size="13">'
            f'{html.escape(title)}</text>']


def _nice_top(value):
    """A round number >= value for the top of an axis."""
    if value <= 0:
        return 1
    step = 10 ** len(str(int(value))) / 10
    for mult in (1, 2, 2.5, 5, 10):
        if step * mult >= value:
            return step * mult
    return 10 * step


def svg_lines(x, series, *, title="", xlabel="", ylabel="", xticks=None, yticks=None, width=600,
              height=260):
    """A line chart: x values, and {name: y values}; the legend sits at the right.

    `xticks` and `yticks` are lists of (value, label) for the axes, e.g. for a
    log scale; by default the y axis starts at 0 and both get round numbers.
    """
    left, right, top, bottom = 50, width - 130, 28, height - 40
    low, high = min(x), max(x)
    if yticks is None:
        peak = _nice_top(max((max(ys) for ys in series.values() if len(ys)), default=1))
        yticks = [(peak * f, f"{peak * f:g}") for f in (0, 0.25, 0.5, 0.75, 1)]
    floor, peak = yticks[0][0], yticks[-1][0]

    def px(v):
        return left + (v - low) / ((high - low) or 1) * (right - left)

    def py(v):
        return bottom - (v - floor) / ((peak - floor) or 1) * (bottom - top)

    parts = _svg_open(width, height, title)
    for value, label in yticks:
        parts.append(f'<line x1="{left}" x2="{right}" y1="{py(value):.1f}" y2="{py(value):.1f}" '
                     f'stroke="#e5e5e5"/><text x="{left - 5}" y="{py(value) + 4:.1f}" '
                     f'text-anchor="end">{html.escape(str(label))}</text>')
    if xticks is None:
        step = _nice_top((high - low) / 4)
        first = -(-low // step) * step
        xticks = [(first + k * step, f"{first + k * step:g}")
                  for k in range(int((high - first) // step) + 1)]
    for value, label in xticks:
        parts.append(f'<text x="{px(value):.1f}" y="{bottom + 15}" text-anchor="middle">'
                     f'{html.escape(str(label))}</text>')
    parts.append(f'<text x="{(left + right) / 2:.0f}" y="{height - 6}" text-anchor="middle">'
                 f'{html.escape(xlabel)}</text><text transform="translate(12 {(top + bottom) / 2:.0f}) '
                 f'rotate(-90)" text-anchor="middle">{html.escape(ylabel)}</text>')
    for i, (name, ys) in enumerate(series.items()):
        colour = _COLOURS[i % len(_COLOURS)]
        points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x, ys))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
                     f'<line x1="{right + 10}" x2="{right + 28}" y1="{top + 14 * i}" y2="{top + 14 * i}" '
                     f'stroke="{colour}" stroke-width="2"/><text x="{right + 33}" '
                     f'y="{top + 14 * i + 4}">{html.escape(str(name))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_bars(panels, *, title="", width=720, row=16):
    """Side-by-side horizontal bar panels: {panel title: {label: value}}, same labels in each."""
    labels = list(next(iter(panels.values())))
    label_w, gap = 95, 14
    panel_w = (width - label_w - gap * len(panels)) / len(panels)
    height = 44 + row * len(labels)
    parts = _svg_open(width, height, title)
    for i, label in enumerate(labels):
        parts.append(f'<text x="{label_w - 6}" y="{40 + row * i + 11}" text-anchor="end">'
                     f'{html.escape(str(label))}</text>')
    for p, (name, values) in enumerate(panels.items()):
        x0 = label_w + p * (panel_w + gap)
        peak = max(values.values()) or 1
        parts.append(f'<text x="{x0 + panel_w / 2:.0f}" y="34" text-anchor="middle" '
                     f'font-weight="bold">{html.escape(name)}</text>')
        for i, label in enumerate(labels):
            value = values[label]
            bar = value / peak * (panel_w - 55)
            parts.append(f'<rect x="{x0:.1f}" y="{40 + row * i + 2}" width="{bar:.1f}" '
                         f'height="{row - 4}" fill="{_COLOURS[p % len(_COLOURS)]}"/>'
                         f'<text x="{x0 + bar + 4:.1f}" y="{40 + row * i + 11}">{value:.3g}</text>')
    parts.append("</svg>")
    return "".join(parts)


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
    return svg_bars({
        "DB loads per expiry": {n: r.loads_per_expiry for n, r in results.items()},
        "p99 latency (ms)": {n: r.p99 * 1000 for n, r in results.items()},
        "stale reads": {n: r.stale_reads for n, r in results.items()},
    }, title=title)


def svg_sweep(sweeps, *, title="DB loads per expiry"):
    """{strategy: sweep()} as lines of loads per expiry against clients, both on log scales."""
    import math

    clients = list(next(iter(sweeps.values())))
    lines = {name: [math.log10(max(runs[c].loads_per_expiry, 1.0)) for c in clients]
             for name, runs in sweeps.items()}
    top = max(1, math.ceil(max(max(ys) for ys in lines.values())))
    return svg_lines([math.log10(c) for c in clients], lines, title=title, xlabel="clients",
                     ylabel="loads per expiry", xticks=[(math.log10(c), f"{c:,}") for c in clients],
                     yticks=[(k, f"{10 ** k:,}") for k in range(top + 1)])


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


def stampede_widget(strategy="none", clients=100, delta=0.5, beta=1.0, jitter=10, *, seed=0):
    """Strategy, clients, delta, beta and jitter controls over simulate(); charts the DB load."""
    import ipywidgets as w

    choice = w.Dropdown(value=strategy, options=sim.STRATEGIES, description="strategy")

    def run(strategy, clients, delta, beta, jitter):
        result = sim.simulate(strategy, clients=clients, delta=delta, beta=beta, jitter=jitter / 100,
                              seed=seed)
        print(format_results({strategy: result}))
        _display(svg_db_load(result))
        return result

    return w.interactive(run, strategy=choice, **_controls(clients, delta, beta, jitter))


def cures_widget(clients=100, delta=0.5, beta=1.0, jitter=10, *, seed=0):
    """The same controls over compare(): every strategy on the same requests, side by side."""
    import ipywidgets as w

    def run(clients, delta, beta, jitter):
        results = sim.compare(clients=clients, delta=delta, beta=beta, jitter=jitter / 100, seed=seed)
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
