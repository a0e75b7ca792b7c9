"""Plots for the notebooks, one section per topic.

Every function takes the data an experiment returned and an optional
matplotlib `ax`, draws on it and returns it.  matplotlib is imported
inside the functions, so `import cachelab` stays light.
"""

import html

__all__ = [
    "OFFSCREEN",
    "Canvas",
    "html_steps",
    "plot_hit_rates",
    "plot_miss_vs_hit",
    "plot_pattern_results",
    "plot_policy_curves",
    "plot_policy_walk",
    "plot_steps",
    "plot_ttl_timeline",
    "svg_hit_rates",
    "to_png",
]

HIT, MISS, NEUTRAL = "#55a868", "#c44e52", "#dddddd"  # colours shared by every plot


OFFSCREEN = "offscreen"  # ax=OFFSCREEN draws on a figure pyplot never sees (widgets, benchmarks)


def _axes(ax, figsize):
    if ax is None:
        import matplotlib.pyplot as plt

        return plt.subplots(figsize=figsize)[1]
    if isinstance(ax, str) and ax == OFFSCREEN:
        return _offscreen(figsize)
    if isinstance(ax, Canvas):
        return ax.axes(figsize)
    return ax


def _offscreen(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, dpi=100)
    FigureCanvasAgg(figure)
    return figure.add_subplot()


class Canvas:
    """An offscreen figure for a widget: pass it as `ax=` and each plot wipes and reuses it.

    A new figure costs a third of a slider update (its ticks and fonts are
    built afresh); reusing one keeps them.  A new size gets a new figure.
    """

    def __init__(self):
        self._ax = None

    def axes(self, figsize):
        """Return an empty axes of `figsize`, the same one as last time if the size matches."""
        ax = self._ax
        if ax is None or tuple(ax.figure.get_size_inches()) != tuple(figsize):
            self._ax = _offscreen(figsize)
            return self._ax
        for artist in [*ax.lines, *ax.patches, *ax.texts, *ax.collections, *ax.images]:
            artist.remove()
        ax.containers.clear()
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        ax.ignore_existing_data_limits = True  # the next artist sets the limits afresh
        ax.set_autoscale_on(True)
        ax.set_prop_cycle(None)                # colours start again: LRU stays blue
        return ax

    def __repr__(self):
        return f"Canvas({'empty' if self._ax is None else self._ax.figure})"


def to_png(ax):
    """Render the figure that holds `ax` to PNG bytes, in one draw."""
    import io

    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png")
    return buffer.getvalue()


# -- experiments: TTL expiration (notebook 02) --------------------------------

def plot_ttl_timeline(run, ax=None):
    """Draw each entry's lifetime as a bar and each request as a hit or miss marker."""
    ax = _axes(ax, (6, 2.2))
    keys = sorted({s.key for s in run.steps}, key=str)
    row = {key: i for i, key in enumerate(keys)}
    for life in run.lifetimes:
        ax.barh(row[life.key], life.expires - life.stored, left=life.stored, height=0.4,
                color=NEUTRAL, edgecolor="#888888")
    for hit, colour, marker, label in [(True, HIT, "o", "hit"), (False, MISS, "X", "miss")]:
        steps = [s for s in run.steps if s.hit == hit]
        ax.scatter([s.time for s in steps], [row[s.key] for s in steps], color=colour,
                   marker=marker, s=60, zorder=3, label=f"{label} ({len(steps)})")
    ax.set_yticks(range(len(keys)), [str(k) for k in keys])
    ax.set_ylim(-0.6, len(keys) - 0.4)
    ax.set_xlim(left=min(s.time for s in run.steps) - 0.3)  # keep the first marker whole
    ax.set_xlabel("time (s); grey bar = entry alive until its TTL runs out")
    ax.set_title(f"TTL {run.ttl:g} s")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    # Fixed margins: a tight layout would draw the figure once more on every slider move.
    ax.figure.subplots_adjust(left=0.06, right=0.8, top=0.86, bottom=0.24)
    return ax


# -- experiments: LRU and LFU steps (notebooks 03 and 04) ----------------------

def _cells(snapshot):
    """(key, label) pairs in eviction order, next to go first."""
    if "buckets" in snapshot:
        return [(k, f"{k}:{count}") for count, keys in snapshot["buckets"].items() for k in keys]
    return [(k, str(k)) for k in snapshot["order"]]


def plot_steps(steps, upto=None, size=None, ax=None):
    """Draw the cache after each step as a row of boxes, next to go on the left.

    The requested key is green on a hit and red on a miss; an evicted key
    is struck out to the right of its row.  Rows after `upto` stay blank,
    so the figure keeps its size while a slider walks through the steps.
    """
    upto = len(steps) if upto is None else upto
    width = size or max(len(_cells(s.snapshot)) for s in steps)
    ax = _axes(ax, (6, 0.3 * len(steps) + 0.9))
    for s in steps[:upto]:
        y = -s.step
        for x, (key, label) in enumerate(_cells(s.snapshot)):
            colour = (HIT if s.hit else MISS) if key == s.key else NEUTRAL
            ax.add_patch(_box(x, y, colour, current=s.step == upto))
            ax.text(x + 0.5, y, label, ha="center", va="center", fontsize=9)
        if s.evicted is not None:
            ax.text(width + 0.3, y, f"evicted {s.evicted}", va="center", fontsize=9,
                    color=MISS)
    ax.set_xlim(-0.1, width + 2.6)
    ax.set_ylim(-len(steps) - 0.6, -0.4)
    ax.set_yticks([-s.step for s in steps],
                  [f"{s.step}. {s.key} {'hit' if s.hit else 'miss'}" if s.step <= upto else f"{s.step}."
                   for s in steps], fontsize=9)
    ax.set_xticks([])
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title("next to go  <-  cache  ->  safest", fontsize=10)
    height = ax.figure.get_figheight()
    ax.figure.subplots_adjust(left=0.16, right=0.99, top=1 - 0.35 / height, bottom=0.1 / height)
    return ax


def _box(x, y, colour, current):
    from matplotlib.patches import Rectangle

    return Rectangle((x + 0.05, y - 0.4), 0.9, 0.8, facecolor=colour,
                     edgecolor="black" if current else "#999999", linewidth=1.5 if current else 0.5)


# -- experiments: hit rate against cache size (notebook 05) --------------------

def plot_hit_rates(table, chosen=None, ax=None):
    """Draw hit ratio against cache size, one line per policy; mark `chosen` = (policy, size, ratio)."""
    ax = _axes(ax, (6, 3))
    for policy, rates in table.rates.items():
        bold = chosen is not None and policy == chosen[0]
        ax.plot(table.sizes, rates, marker="o", markersize=3, label=policy,
                linewidth=2.5 if bold else 1.2, alpha=1.0 if bold or chosen is None else 0.6)
    if chosen is not None:
        policy, size, ratio = chosen
        ax.scatter([size], [ratio], s=80, color="black", zorder=3)
        ax.annotate(f"{policy} @ {size}: {ratio:.0%}", (size, ratio), textcoords="offset points",
                    xytext=(6, -12), fontsize=9)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("cache size (entries)")
    ax.set_ylabel("hit ratio")
    ax.set_title(f"pattern: {table.pattern}")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    ax.figure.subplots_adjust(left=0.11, right=0.98, top=0.9, bottom=0.16)
    return ax


# -- patterns: the e-commerce demo and the write patterns (notebooks 06 and 07) --

def plot_miss_vs_hit(results, ax=None):
    """Draw each lookup's miss and hit time (ms) from run_performance_test() results."""
    import numpy as np

    ax = _axes(ax, (6, 2.6))
    names = [r["test"] for r in results]
    rows = np.arange(len(names))
    miss = [r["miss_time"] * 1000 for r in results]
    hit = [r["hit_time"] * 1000 for r in results]
    ax.barh(rows - 0.2, miss, height=0.4, color=MISS, label="miss (database)")
    ax.barh(rows + 0.2, hit, height=0.4, color=HIT, label="hit (cache)")
    if min(hit + miss) > 0:
        ax.set_xscale("log")  # hits are thousands of times shorter than misses
    ax.set_yticks(rows, names)
    ax.invert_yaxis()
    ax.set_xlabel("time (ms)" + (", log scale" if ax.get_xscale() == "log" else ""))
    ax.legend(loc="lower right", fontsize=8)
    ax.figure.tight_layout()
    return ax


def plot_pattern_results(results, axes=None):
    """Draw mean latency per read and write, and database queries, for each PatternResult."""
    import numpy as np

    if axes is None:
        import matplotlib.pyplot as plt

        axes = plt.subplots(1, 2, figsize=(9, 3))[1]
    names = [r.pattern for r in results]
    rows = np.arange(len(names))
    for ax, (a, b), (la, lb), title in [
        (axes[0], ("read_ms", "write_ms"), ("read", "write"), "mean latency (ms)"),
        (axes[1], ("db_reads", "db_writes"), ("reads", "writes"), "database queries"),
    ]:
        ax.barh(rows - 0.2, [getattr(r, a) for r in results], height=0.4, color=HIT, label=la)
        ax.barh(rows + 0.2, [getattr(r, b) for r in results], height=0.4, color=MISS, label=lb)
        ax.set_yticks(rows, names if ax is axes[0] else [""] * len(names))
        ax.invert_yaxis()
        ax.set_title(title, fontsize=10)
        ax.legend(loc="lower right", fontsize=8)
    axes[0].figure.tight_layout()
    return axes


# -- policies lab: hit-ratio curves against OPT, queues step by step (notebook 08) --

def plot_policy_curves(curves, size=None, axes=None):
    """Draw each policy's hit-ratio curve under OPT's, and each policy's gap to OPT at `size`.

    `curves` is {name: HitCurve} from compare_policies(); OPT is the dashed
    black ceiling.  The right panel shows, at the marked size (default the
    middle one), how many percentage points each policy leaves to OPT.
    """
    import numpy as np

    from .simulation import gaps_to_opt

    if axes is None or (isinstance(axes, str) and axes == OFFSCREEN):
        # Two panels in one figure: build it the way _axes builds one.
        figure = _axes(axes, (9, 3.2)).figure
        figure.clear()
        axes = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    left, right = axes
    sizes = next(iter(curves.values())).sizes
    at = len(sizes) // 2 if size is None else int(np.argmin(np.abs(np.asarray(sizes) - size)))
    for name, curve in curves.items():
        if name == "OPT":
            left.plot(sizes, curve.hit_ratios, "k--", linewidth=2, label="OPT (ceiling)")
        else:
            left.plot(sizes, curve.hit_ratios, marker="o", markersize=3, linewidth=1.3, label=name)
    left.axvline(sizes[at], color="#888888", linewidth=0.8)
    left.set_ylim(-0.03, 1.03)
    left.set_xlabel("cache size (entries)")
    left.set_ylabel("hit ratio")
    left.legend(loc="lower right", fontsize=7, ncol=2)
    left.grid(alpha=0.3)
    if "OPT" in curves:
        gaps = gaps_to_opt(curves)
        names = sorted(gaps, key=lambda n: gaps[n][at])
        right.barh(names, [100 * gaps[n][at] for n in names], color=MISS)
        right.invert_yaxis()
        right.set_xlabel("points of hit ratio below OPT")
        right.set_title(f"gap to OPT at size {sizes[at]}", fontsize=10)
    left.figure.tight_layout()
    return axes


def plot_policy_walk(walk, upto=None, ax=None):
    """Draw a policy's queues after step `upto` of a policy_walk(): hand, marks, eviction.

    Each row is one queue, oldest key on the left; a green key is marked to
    be spared (visited, referenced or read), the hand is an arrow below its
    key, and the requested key has a thick border.
    """
    upto = len(walk) if upto is None else upto
    step = walk[upto - 1]
    rows = step.rows
    width = max([len(keys) for walks in walk for _, keys, _, _ in walks.rows] + [1])
    ax = _axes(ax, (6, 0.9 * len(rows) + 0.8))
    for r, (label, keys, marked, hand) in enumerate(rows):
        y = -1.2 * r
        ax.text(-0.2, y, label, ha="right", va="center", fontsize=9)
        for x, key in enumerate(keys):
            ghost = label in ("ghost", "B1", "B2")  # names only: the values are gone
            ax.add_patch(_box(x, y, "white" if ghost else HIT if key in marked else NEUTRAL,
                              current=key == step.key))
            ax.text(x + 0.5, y, str(key), ha="center", va="center", fontsize=9)
            if key == hand:
                ax.annotate("", (x + 0.5, y - 0.42), (x + 0.5, y - 0.85),
                            arrowprops={"arrowstyle": "->", "linewidth": 1.5})
    ax.set_xlim(-1.6, width + 0.2)
    ax.set_ylim(-1.2 * len(rows) + 0.2, 0.6)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    evicted = "" if step.evicted is None else f", evicted {step.evicted}"
    ax.set_title(f"step {step.step}: {step.key} {'hit' if step.hit else 'miss'}{evicted}"
                 "   (oldest on the left)", fontsize=10)
    ax.figure.tight_layout()
    return ax


# -- step-through views as HTML: LRU, LFU and the policies lab (notebooks 03, 04, 08) --
#
# A slider walking through steps redraws often; HTML boxes cost well under a
# millisecond where a matplotlib figure costs 60-90 ms, and stay crisp.

_BOX = ("display:inline-block;min-width:1.8em;padding:1px 4px;margin:1px;text-align:center;"
        "border-radius:3px;")
_SPARED = "#cfe0f5"  # keys the policy will spare: visited, referenced or read


def _html_box(key, *, colour, current, ghost):
    border = ("2px solid black" if current else "1px dashed #999999" if ghost
              else "1px solid #999999")
    text = "color:#888888;" if ghost else "color:white;font-weight:bold;" if colour in (HIT, MISS) else ""
    return f'<span style="{_BOX}background:{colour};border:{border};{text}">{html.escape(str(key))}</span>'


def _html_state(step):
    """One step's queues as labelled rows of boxes; the hand is a ▸ before its key."""
    rows = step.rows
    parts = []
    for label, keys, marked, hand in rows:
        ghost = label in ("ghost", "B1", "B2")  # names only: the values are gone
        boxes = "".join(
            ("▸" if key == hand else "")
            + _html_box(key, current=key == step.key, ghost=ghost,
                        colour=(("white" if ghost else HIT if step.hit else MISS) if key == step.key
                                else "white" if ghost else _SPARED if key in marked else NEUTRAL))
            for key in keys) or '<span style="color:#aaaaaa">-</span>'
        named = "" if len(rows) == 1 and label == "cache" else f"<b>{html.escape(label)}</b> "
        parts.append(f'<span style="margin-right:1.2em;white-space:nowrap">{named}{boxes}</span>')
    return "".join(parts)


def _html_legend(rows):
    """Explain the marks these rows use, and only those."""
    parts = ["oldest, or next to go, on the left", "green/red box: the key requested, hit/miss"]
    if any(marked for _, _, marked, _ in rows):
        parts.append(f'<span style="background:{_SPARED};padding:0 3px">blue</span>: spared next time')
    if any(hand is not None for _, _, _, hand in rows):
        parts.append("▸ the hand")
    if any(label in ("ghost", "B1", "B2") for label, _, _, _ in rows):
        parts.append("dashed: a ghost (key only)")
    return "; ".join(parts)


def html_steps(steps, upto=None):
    """Return an HTML table of a walk up to step `upto`: each step's cache as coloured boxes.

    `steps` are Step records (experiments.policy_steps, simulation.policy_walk).
    Each row shows one request, hit (green) or miss (red), the cache after it,
    oldest or next to go on the left, and the key it evicted.  Later rows
    stay as blank numbers, so the table keeps its height as a slider moves.
    """
    upto = len(steps) if upto is None else upto
    cell = "padding:2px 8px;border-bottom:1px solid #eeeeee;text-align:left;"
    rows = []
    for s in steps:
        if s.step > upto:
            rows.append(f'<tr style="color:#bbbbbb"><td style="{cell}">{s.step}.</td>'
                        f'<td style="{cell}" colspan="3"></td></tr>')
            continue
        result = "hit" if s.hit else "miss"
        evicted = ("" if s.evicted is None
                   else f'evicted <b>{html.escape(str(s.evicted))}</b>')
        shade = "background:#fff8dc;" if s.step == upto else ""
        rows.append(
            f'<tr style="{shade}"><td style="{cell}">{s.step}. <b>{html.escape(str(s.key))}</b></td>'
            f'<td style="{cell}color:{HIT if s.hit else MISS};font-weight:bold">{result}</td>'
            f'<td style="{cell}">{_html_state(s)}</td>'
            f'<td style="{cell}color:{MISS}">{evicted}</td></tr>')
    legend = _html_legend([row for s in steps for row in s.rows])
    return (f'<div class="cachelab-steps" style="font-family:monospace;font-size:13px">'
            f'<div style="color:#666666;margin-bottom:4px">{legend}</div>'
            f'<table style="border-collapse:collapse">{"".join(rows)}</table></div>')


# -- the hit-rate chart as SVG, for its widget (notebook 05) -------------------------
#
# A few lines and labels in SVG take about a millisecond; the same chart
# through matplotlib and PNG takes 50-75 ms, over the 50 ms a slider update may take.

_LINE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def svg_hit_rates(table, chosen=None, *, width=600, height=300):
    """Return an SVG line chart of hit ratio against cache size, as plot_hit_rates() draws it."""
    left, right, top, bottom = 50, width - 100, 28, height - 42
    low, high = min(table.sizes), max(table.sizes)

    def x(size):
        return left + (size - low) / ((high - low) or 1) * (right - left)

    def y(ratio):
        return bottom - ratio * (bottom - top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             f'<text x="{(left + right) / 2}" y="16" text-anchor="middle" font-size="13">'
             f'pattern: {html.escape(str(table.pattern))}</text>']
    for ratio in (0, 0.25, 0.5, 0.75, 1):
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y(ratio):.1f}" y2="{y(ratio):.1f}" '
                     f'stroke="#e5e5e5"/><text x="{left - 5}" y="{y(ratio) + 4:.1f}" '
                     f'text-anchor="end">{ratio:.0%}</text>')
    for size in table.sizes:
        parts.append(f'<text x="{x(size):.1f}" y="{bottom + 15}" text-anchor="middle">{size}</text>')
    parts.append(f'<text x="{(left + right) / 2}" y="{height - 6}" text-anchor="middle">'
                 f'cache size (entries)</text>'
                 f'<text transform="translate(12 {(top + bottom) / 2}) rotate(-90)" '
                 f'text-anchor="middle">hit ratio</text>')
    for i, (policy, rates) in enumerate(table.rates.items()):
        colour = _LINE_COLOURS[i % len(_LINE_COLOURS)]
        bold = chosen is not None and policy == chosen[0]
        points = " ".join(f"{x(s):.1f},{y(r):.1f}" for s, r in zip(table.sizes, rates))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                     f'stroke-width="{3 if bold else 1.5}" opacity="{1 if bold or chosen is None else 0.6}"/>'
                     f'<line x1="{right + 12}" x2="{right + 32}" y1="{top + 14 * i}" y2="{top + 14 * i}" '
                     f'stroke="{colour}" stroke-width="{3 if bold else 1.5}"/>'
                     f'<text x="{right + 37}" y="{top + 14 * i + 4}">{html.escape(str(policy))}</text>')
    if chosen is not None:
        policy, size, ratio = chosen
        parts.append(f'<circle cx="{x(size):.1f}" cy="{y(ratio):.1f}" r="5"/>'
                     f'<text x="{x(size) + 8:.1f}" y="{y(ratio) + 14:.1f}">'
                     f'{html.escape(str(policy))} @ {size}: {ratio:.0%}</text>')
    parts.append("</svg>")
    return "".join(parts)
