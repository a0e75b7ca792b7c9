"""matplotlib figures for the notebooks, one section per topic.

Every function takes the data an experiment returned and an optional
`ax`: a matplotlib axes to draw on, a `Canvas` (an offscreen figure a
widget reuses), or None for a new pyplot figure.  It draws and returns
the axes.  A cache's state is drawn from its `describe()` rows, and every
colour comes from `views`, so a plot and its HTML or SVG view agree.
matplotlib is imported inside the functions, so `import cachelab` stays light.
"""

import io

import numpy as np

from .views import (HIT, MISS, NEUTRAL, READ, WRITE, gap_points, has_labels, box_colour,
                    departed, hit_rate_chart)

__all__ = [
    "Canvas",
    "plot_chart",
    "plot_hit_rates",
    "plot_miss_vs_hit",
    "plot_pattern_results",
    "plot_policy_curves",
    "plot_steps",
    "plot_ttl_timeline",
    "to_png",
]


def _axes(ax, figsize):
    if ax is None:
        import matplotlib.pyplot as plt

        return plt.subplots(figsize=figsize)[1]
    if isinstance(ax, Canvas):
        return ax.axes(figsize)
    return ax


def _offscreen(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, dpi=100)
    FigureCanvasAgg(figure)
    return figure


class Canvas:
    """An offscreen figure for a widget or a benchmark: pass it as `ax=` and each plot reuses it.

    pyplot never sees it, so nothing shows until you render it with to_png().
    A new figure costs a third of a slider update (its ticks and fonts are
    built afresh); reusing one keeps them.  A new size gets a new figure.
    """

    def __init__(self):
        self._ax = None

    def axes(self, figsize):
        """Return an empty axes of `figsize`, the same one as last time if the size matches."""
        ax = self._ax
        if ax is None or tuple(ax.figure.get_size_inches()) != tuple(figsize):
            self._ax = _offscreen(figsize).add_subplot()
            return self._ax
        for artist in [*ax.lines, *ax.patches, *ax.texts, *ax.collections, *ax.images]:
            artist.remove()
        ax.containers.clear()
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        ax.ignore_existing_data_limits = True  # the next artist sets the limits afresh
        ax.set_autoscale_on(True)
        ax.set_prop_cycle(None)
        return ax

    def subplots(self, figsize, ncols, width_ratios):
        """Return `ncols` fresh axes side by side on a figure of `figsize`."""
        self._ax = None  # panels are rebuilt each time; axes() starts afresh after
        figure = _offscreen(figsize)
        return figure.subplots(1, ncols, gridspec_kw={"width_ratios": width_ratios})

    def __repr__(self):
        return f"Canvas({'empty' if self._ax is None else self._ax.figure})"


def to_png(ax):
    """Render the figure that holds `ax` to PNG bytes, in one draw."""
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


# -- any policy, step by step (notebooks 03, 04 and 08) ----------------------------

def _layout(state):
    """Place a state's rows on one line: [(x, row, key or None for the label)]."""
    cells, x = [], 0.0
    labelled = has_labels(state)
    for row in state:
        if labelled:
            cells.append((x, row, None))
            x += 0.18 * len(row.label) + 0.4
        for key in row.keys or ["-"]:
            cells.append((x, row, key))
            x += 1
        x += 0.5
    return cells, x


def plot_steps(steps, upto=None, ax=None):
    """Draw the cache after each step as rows of boxes, next to go on the left.

    Steps come from experiments.policy_steps() (any policy).  The requested
    key is green on a hit and red on a miss; a blue key will be spared, a
    dashed one is a ghost, the hand is a ▸ before its key; an evicted key
    is named at the right.  Rows after `upto` stay blank, so the figure
    keeps its size while a slider walks through the steps.
    """
    from matplotlib.patches import Rectangle

    upto = len(steps) if upto is None else upto
    layouts = [_layout(s.state) for s in steps]
    width = max(end for _, end in layouts)
    ax = _axes(ax, (max(6, 0.42 * width + 2.5), 0.32 * len(steps) + 0.9))
    for s, (cells, _) in zip(steps[:upto], layouts):
        y = -s.step
        for x, row, key in cells:
            if key is None:
                ax.text(x, y, row.label, va="center", fontsize=8, fontweight="bold")
                continue
            current = key == s.key
            colour = "white" if not row.keys else box_colour(key, row, s)  # "-": an empty row
            ax.add_patch(Rectangle((x + 0.05, y - 0.4), 0.9, 0.8, facecolor=colour,
                                   edgecolor="black" if current else "#999999",
                                   linestyle="--" if row.ghost else "-",
                                   linewidth=1.5 if current and s.step == upto else 0.5))
            note = row.notes.get(key)
            ax.text(x + 0.5, y, f"{key}\n{note}" if note else str(key), ha="center",
                    va="center", fontsize=6 if note else 9)
            if key == row.hand:
                ax.text(x + 0.02, y, "▸", ha="right", va="center", fontsize=9)
        verb, keys = departed(s)
        if keys:
            ax.text(width + 0.3, y, f"{verb} {' '.join(map(str, keys))}", va="center", fontsize=9,
                    color=MISS)
    ax.set_xlim(-0.1, width + 2.6)
    ax.set_ylim(-len(steps) - 0.6, -0.4)
    ax.set_yticks([-s.step for s in steps],
                  [f"{s.step}. {s.key} {'hit' if s.hit else 'miss'}" if s.step <= upto
                   else f"{s.step}." for s in steps], fontsize=9)
    ax.set_xticks([])
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title("next to go  <-  cache  ->  safest", fontsize=10)
    height = ax.figure.get_figheight()
    ax.figure.subplots_adjust(left=0.16, right=0.99, top=1 - 0.35 / height, bottom=0.1 / height)
    return ax


# -- hit ratio against cache size (notebooks 05 and 08): views.hit_rate_chart's spec --

def plot_chart(chart, ax=None):
    """Draw a views.Chart: one line per policy, OPT dashed, the marker if any."""
    ax = _axes(ax, (6, 3))
    for line in chart.series:
        ax.plot(line.sizes, line.ratios, "--" if line.dashed else "-", marker=None if line.dashed else "o",
                markersize=3, color=line.colour, linewidth=line.width, alpha=line.opacity,
                label=line.name)
    if chart.marker is not None:
        size, ratio, label = chart.marker
        if ratio is None:
            ax.axvline(size, color="#888888", linewidth=0.8)
        else:
            ax.scatter([size], [ratio], s=80, color="black", zorder=3)
            ax.annotate(label, (size, ratio), textcoords="offset points", xytext=(6, -12),
                        fontsize=9)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("cache size (entries)")
    ax.set_ylabel("hit ratio")
    ax.set_title(chart.title)
    ax.legend(loc="lower right", fontsize=7, ncol=2 if len(chart.series) > 4 else 1)
    ax.grid(alpha=0.3)
    return ax


def plot_hit_rates(curves, chosen=None, *, title="", ax=None):
    """Draw hit ratio against cache size from {policy: HitCurve}; mark `chosen` = (policy, size, ratio)."""
    ax = plot_chart(hit_rate_chart(curves, chosen, title=title), ax)
    ax.figure.subplots_adjust(left=0.11, right=0.98, top=0.9, bottom=0.16)
    return ax


def plot_policy_curves(curves, size=None, axes=None):
    """Draw each policy's hit-ratio curve under OPT's, and each policy's gap to OPT at `size`.

    `curves` is {name: HitCurve} from compare_policies().  The right panel
    shows, at the marked size (default the middle one), how many percentage
    points each policy leaves to OPT.  `axes` is a pair of axes, a Canvas or None.
    """
    if axes is None:
        import matplotlib.pyplot as plt

        axes = plt.subplots(1, 2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [3, 2]})[1]
    elif isinstance(axes, Canvas):
        axes = axes.subplots((9, 3.2), 2, [3, 2])
    left, right = axes
    sizes = next(iter(curves.values())).sizes
    at = len(sizes) // 2 if size is None else int(np.argmin(np.abs(np.asarray(sizes) - size)))
    plot_chart(hit_rate_chart(curves, at=int(sizes[at])), left)
    if "OPT" in curves:
        gaps = gap_points(curves, at)
        right.barh([name for name, _ in gaps], [points for _, points in gaps], color=MISS)
        right.invert_yaxis()
        right.set_xlabel("points of hit ratio below OPT")
        right.set_title(f"gap to OPT at size {sizes[at]}", fontsize=10)
    left.figure.tight_layout()
    return axes


# -- patterns: the e-commerce demo and the write patterns (notebooks 06 and 07) --

def _legend_outside(ax):
    """The legend to the right of the axes, where it can never cover a bar."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)


def plot_miss_vs_hit(results, ax=None):
    """Draw each lookup's miss and hit time (ms) from run_performance_test() results."""
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
    _legend_outside(ax)
    ax.figure.tight_layout()
    return ax


def plot_pattern_results(results, axes=None):
    """Draw mean latency per read and write, and database queries, for each PatternResult."""
    if axes is None:
        import matplotlib.pyplot as plt

        axes = plt.subplots(1, 2, figsize=(9, 3))[1]
    names = [r.pattern for r in results]
    rows = np.arange(len(names))
    for ax, (a, b), (la, lb), title in [
        (axes[0], ("read_ms", "write_ms"), ("read", "write"), "mean latency (ms)"),
        (axes[1], ("db_reads", "db_writes"), ("reads", "writes"), "database queries"),
    ]:
        ax.barh(rows - 0.2, [getattr(r, a) for r in results], height=0.4, color=READ, label=la)
        ax.barh(rows + 0.2, [getattr(r, b) for r in results], height=0.4, color=WRITE, label=lb)
        ax.set_yticks(rows, names if ax is axes[0] else [""] * len(names))
        ax.invert_yaxis()
        ax.set_title(title, fontsize=10)
        _legend_outside(ax)
    axes[0].figure.tight_layout()
    return axes


