"""Plots for the notebooks, one section per topic.

Every function takes the data an experiment returned and an optional
matplotlib `ax`, draws on it and returns it.  matplotlib is imported
inside the functions, so `import cachelab` stays light.
"""

__all__ = [
    "OFFSCREEN",
    "Canvas",
    "plot_hit_rates",
    "plot_miss_vs_hit",
    "plot_pattern_results",
    "plot_policy_curves",
    "plot_policy_walk",
    "plot_steps",
    "plot_ttl_timeline",
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
