"""Views as pure functions that return strings: text tables, HTML boxes and SVG charts.

Every view here draws the records the experiments return, and a cache's
state only as `describe()` rows (`cachelab.caches.Row`): keys with
their marks, never a particular policy's fields.  `plots.py` draws the
same records and the same chart specs with matplotlib, in the same
colours.  A slider redraws in about a millisecond with these, where a
matplotlib figure takes 50-90 ms.
"""

import collections
import html
import math

from ..policies import POLICIES
from .simulation import gaps_to_opt

__all__ = [
    "GHOST",
    "HIT",
    "MISS",
    "NEUTRAL",
    "READ",
    "SPARED",
    "WRITE",
    "Chart",
    "Series",
    "box_colour",
    "colour_of",
    "curves_table",
    "departed",
    "gap_points",
    "hit_rate_chart",
    "html_gaps",
    "html_steps",
    "has_labels",
    "row_text",
    "step_table",
    "svg_bars",
    "svg_chart",
    "svg_lines",
    "svg_panels",
    "svg_ttl_timeline",
]

# -- one colour vocabulary, for every view and every plot ---------------------
HIT = "#55a868"      # a request that hit
MISS = "#c44e52"     # a request that missed, and a key evicted
SPARED = "#cfe0f5"   # a key the policy will spare: its bit, visit or read
NEUTRAL = "#dddddd"  # any other cached key, and an entry's lifetime
GHOST = "#ffffff"    # a ghost: a name whose value is gone (drawn dashed)
READ = "#4c72b0"     # reads, in the write-pattern measurements
WRITE = "#dd8452"    # writes, likewise
# Lines of any chart (policies, strategies): no green or red, which mean hit and miss.
_SERIES = ("#1f77b4", "#ff7f0e", "#8c564b", "#9467bd", "#17becf", "#e377c2", "#7f7f7f",
           "#bcbd22", "#393b79", "#e7ba52", "#6b6ecf")


def colour_of(policy):
    """The line colour of a policy in every chart: by its place in the registry; OPT is black."""
    if policy == "OPT":
        return "#000000"
    names = list(POLICIES)
    return _SERIES[(names.index(policy) if policy in names else len(names)) % len(_SERIES)]


# -- step tables: any policy's rows, as text and as HTML ------------------------

def row_text(row):
    """One Row as text: [k] under the hand, k* spared, (k) a ghost, a note after its key."""
    def key_text(key):
        text = f"[{key}]" if key == row.hand else f"({key})" if row.ghost else str(key)
        note = row.notes.get(key)
        return text + ("*" if key in row.spared else "") + (f" {note}" if note else "")

    return (", " if row.notes else " ").join(map(key_text, row.keys)) or "-"


def departed(step):
    """What left the cache at this step: ("evicted", keys), or ("expired", keys) for a timed run."""
    if step.time is not None:
        return "expired", tuple(step.expired)
    return "evicted", () if step.evicted is None else (step.evicted,)


def has_labels(rows):
    """False for a plain cache's state, one row named "cache": it is drawn without the name."""
    return not (len(rows) == 1 and rows[0].label == "cache")


def _state_text(rows):
    if not has_labels(rows):
        return row_text(rows[0])
    return "  ".join(f"{row.label}: {row_text(row)}" for row in rows)


def step_table(steps):
    """Format Step records (any policy, timed or not) as a fixed-width text table.

    The cache is shown next to go first; [k] is under the hand, k* will be
    spared, (k) is a ghost, and a key's note (a count, an expiry) follows it.
    """
    timed = bool(steps) and steps[0].time is not None
    lines = [("step   time  " if timed else "step  ") + "key  result  "
             + ("expired  " if timed else "evicted  ") + "cache (next to go first)"]
    for s in steps:
        left = " ".join(map(str, departed(s)[1]))
        lines.append((f"{s.step:>4} {s.time:>6g}  " if timed else f"{s.step:>4}  ")
                     + f"{s.key!s:<4} {'hit' if s.hit else 'miss':<6}  {left:<7}  "
                     + _state_text(s.state))
    return "\n".join(line.rstrip() for line in lines)


_BOX = ("display:inline-block;min-width:1.8em;padding:1px 4px;margin:1px;text-align:center;"
        "border-radius:3px;")


def box_colour(key, row, step):
    """The colour of `key` in `row` after `step`: the key requested is a hit or a miss;
    else a ghost, a key to be spared, or any other cached key."""
    if key == step.key and not row.ghost:
        return HIT if step.hit else MISS
    return GHOST if row.ghost else SPARED if key in row.spared else NEUTRAL


def _html_box(key, row, step):
    current = key == step.key
    colour = box_colour(key, row, step)
    border = ("2px solid black" if current else "1px dashed #999999" if row.ghost
              else "1px solid #999999")
    text = ("color:#888888;" if row.ghost
            else "color:white;font-weight:bold;" if colour in (HIT, MISS) else "")
    note = row.notes.get(key)
    note = f' <small>{html.escape(note)}</small>' if note else ""
    return (("▸" if key == row.hand else "")
            + f'<span style="{_BOX}background:{colour};border:{border};{text}">'
            f'{html.escape(str(key))}{note}</span>')


def _html_state(step):
    """One step's rows as labelled rows of boxes; the hand is a ▸ before its key."""
    parts, labelled = [], has_labels(step.state)
    for row in step.state:
        boxes = ("".join(_html_box(key, row, step) for key in row.keys)
                 or '<span style="color:#aaaaaa">-</span>')
        named = f"<b>{html.escape(row.label)}</b> " if labelled else ""
        parts.append(f'<span style="margin-right:1.2em;white-space:nowrap">{named}{boxes}</span>')
    return "".join(parts)


def _legend(rows):
    """Explain the marks these rows use, and only those."""
    parts = ["oldest, or next to go, on the left", "green/red box: the key requested, hit/miss"]
    if any(row.spared for row in rows):
        parts.append(f'<span style="background:{SPARED};padding:0 3px">blue</span>: spared next time')
    if any(row.hand is not None for row in rows):
        parts.append("▸ the hand")
    if any(row.ghost for row in rows):
        parts.append("dashed: a ghost (key only)")
    return "; ".join(parts)


def html_steps(steps, upto=None):
    """Return an HTML table of a walk up to step `upto`: each step's cache as coloured boxes.

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
        verb, keys = departed(s)
        left = f'{verb} <b>{html.escape(" ".join(map(str, keys)))}</b>' if keys else ""
        when = "" if s.time is None else f" <small>t={s.time:g}</small>"
        shade = "background:#fff8dc;" if s.step == upto else ""
        rows.append(
            f'<tr style="{shade}"><td style="{cell}">{s.step}. <b>{html.escape(str(s.key))}</b>'
            f'{when}</td><td style="{cell}color:{HIT if s.hit else MISS};font-weight:bold">'
            f'{"hit" if s.hit else "miss"}</td><td style="{cell}">{_html_state(s)}</td>'
            f'<td style="{cell}color:{MISS}">{left}</td></tr>')
    legend = _legend([row for s in steps for row in s.state])
    return (f'<div class="cachelab-steps" style="font-family:monospace;font-size:13px">'
            f'<div style="color:#666666;margin-bottom:4px">{legend}</div>'
            f'<table style="border-collapse:collapse">{"".join(rows)}</table></div>')


# -- hit ratio against cache size: one chart spec, drawn as SVG here and by plots.py --

Series = collections.namedtuple("Series", "name sizes ratios colour width opacity dashed")
Series.__doc__ = "One line of a chart: a policy's hit ratio at each size, and how to draw it."
Chart = collections.namedtuple("Chart", "title series marker")
Chart.__doc__ = ("A hit-ratio-by-size chart: its title, its lines, and a marker (size, ratio "
                 "or None for a vertical line, label) or None.")


def hit_rate_chart(curves, chosen=None, *, title="", at=None):
    """The one spec of every hit-rate chart, from {policy: HitCurve}.

    `chosen` = (policy, size, ratio) puts a dot and a label there and draws
    that policy bold; `at` = a size draws a vertical line there instead.
    OPT, if present, is the dashed black ceiling.
    """
    series = []
    for name, curve in curves.items():
        bold = chosen is not None and name == chosen[0]
        series.append(Series(
            "OPT (ceiling)" if name == "OPT" else name, [int(s) for s in curve.sizes],
            [float(r) for r in curve.hit_ratios], colour_of(name),
            2.5 if bold or name == "OPT" else 1.3, 1.0 if bold or chosen is None else 0.6,
            name == "OPT"))
    if chosen is not None:
        policy, size, ratio = chosen
        marker = (size, ratio, f"{policy} @ {size}: {ratio:.0%}")
    elif at is not None:
        marker = (at, None, f"size {at}")
    else:
        marker = None
    return Chart(title, series, marker)


def svg_chart(chart, *, width=600, height=300):
    """Return a Chart as an SVG line chart: hit ratio (0-100%) against cache size."""
    left, right, top, bottom = 50, width - 110, 28, height - 42
    sizes = sorted({s for line in chart.series for s in line.sizes})
    low, high = sizes[0], sizes[-1]

    def x(size):
        return left + (size - low) / ((high - low) or 1) * (right - left)

    def y(ratio):
        return bottom - ratio * (bottom - top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             f'<text x="{(left + right) / 2}" y="16" text-anchor="middle" font-size="13">'
             f'{html.escape(chart.title)}</text>']
    for ratio in (0, 0.25, 0.5, 0.75, 1):
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y(ratio):.1f}" y2="{y(ratio):.1f}" '
                     f'stroke="#e5e5e5"/><text x="{left - 5}" y="{y(ratio) + 4:.1f}" '
                     f'text-anchor="end">{ratio:.0%}</text>')
    for size in sizes:
        parts.append(f'<text x="{x(size):.1f}" y="{bottom + 15}" text-anchor="middle">{size}</text>')
    parts.append(f'<text x="{(left + right) / 2}" y="{height - 6}" text-anchor="middle">'
                 f'cache size (entries)</text>'
                 f'<text transform="translate(12 {(top + bottom) / 2}) rotate(-90)" '
                 f'text-anchor="middle">hit ratio</text>')
    for i, line in enumerate(chart.series):
        points = " ".join(f"{x(s):.1f},{y(r):.1f}" for s, r in zip(line.sizes, line.ratios))
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        parts.append(f'<polyline points="{points}" fill="none" stroke="{line.colour}" '
                     f'stroke-width="{line.width}" opacity="{line.opacity}"{dash}/>'
                     f'<line x1="{right + 12}" x2="{right + 32}" y1="{top + 14 * i}" '
                     f'y2="{top + 14 * i}" stroke="{line.colour}" stroke-width="{line.width}"{dash}/>'
                     f'<text x="{right + 37}" y="{top + 14 * i + 4}">{html.escape(line.name)}</text>')
    if chart.marker is not None:
        size, ratio, label = chart.marker
        if ratio is None:
            parts.append(f'<line x1="{x(size):.1f}" x2="{x(size):.1f}" y1="{top}" y2="{bottom}" '
                         f'stroke="#888888"/>')
        else:
            parts.append(f'<circle cx="{x(size):.1f}" cy="{y(ratio):.1f}" r="5"/>'
                         f'<text x="{x(size) + 8:.1f}" y="{y(ratio) + 14:.1f}">'
                         f'{html.escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def gap_points(curves, at):
    """[(policy, points of hit ratio it leaves to OPT)] at the `at`-th size, smallest gap first."""
    gaps = gaps_to_opt(curves)
    return sorted(((name, 100 * float(gap[at])) for name, gap in gaps.items()),
                  key=lambda pair: pair[1])


def html_gaps(curves, size):
    """Return HTML bars: how many points of hit ratio each policy leaves to OPT at `size`."""
    sizes = [int(s) for s in next(iter(curves.values())).sizes]
    rows = []
    for name, points in gap_points(curves, sizes.index(size)):
        rows.append(f'<div style="white-space:nowrap"><span style="display:inline-block;'
                    f'width:5em">{html.escape(name)}</span><span style="display:inline-block;'
                    f'width:{3 * points:.0f}px;height:0.8em;background:{MISS}"></span> '
                    f'{points:.1f}</div>')
    return (f'<div style="font-family:sans-serif;font-size:12px"><b>points of hit ratio below '
            f'OPT at size {size}</b>{"".join(rows)}</div>')


def curves_table(curves):
    """Format {policy: HitCurve} as text: hit ratio per size and policy, then the mean gap to OPT."""
    names = list(curves)
    sizes = next(iter(curves.values())).sizes
    lines = ["size  " + " ".join(f"{name:>7}" for name in names)]
    for i, size in enumerate(sizes):
        lines.append(f"{size:>4}  " + " ".join(f"{curves[n].hit_ratios[i]:>7.1%}" for n in names))
    if "OPT" in curves:
        gaps = gaps_to_opt(curves)
        lines.append("gap   " + " ".join(f"{gaps[n].mean():>7.1%}" if n in gaps else f"{'':>7}"
                                         for n in names))
    return "\n".join(line.rstrip() for line in lines)


# -- grouped bars, for the e-commerce and write-pattern widgets (notebooks 06 and 07) --

def svg_bars(labels, series, *, title="", unit="", log=False, width=420):
    """Return horizontal grouped bars as SVG: one group per label, one bar per (name, colour, values).

    With `log`, bar lengths are on a log scale (for times thousands of times apart).
    """
    values = [v for _, _, vs in series for v in vs]
    positive = [v for v in values if v > 0]
    if log and positive:
        low = math.log10(min(positive)) - 0.5
        span = (math.log10(max(positive)) - low) or 1

        def length(v):
            return 0 if v <= 0 else (math.log10(v) - low) / span
    else:
        top = max(values + [0]) or 1

        def length(v):
            return v / top
    bar, left, right = 12, 120, width - 70
    group = bar * len(series) + 10
    height = 40 + group * len(labels) + 16 * len(series)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13">'
             f'{html.escape(title)}{" (log scale)" if log and positive else ""}</text>']
    for g, label in enumerate(labels):
        y0 = 28 + g * group
        parts.append(f'<text x="{left - 6}" y="{y0 + group / 2}" text-anchor="end">'
                     f'{html.escape(str(label))}</text>')
        for b, (_, colour, vs) in enumerate(series):
            y, v = y0 + b * bar, vs[g]
            w = length(v) * (right - left)
            parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar - 2}" '
                         f'fill="{colour}"/><text x="{left + w + 4:.1f}" y="{y + bar - 3}">'
                         f'{v:.3g}{html.escape(unit)}</text>')
    y = 32 + group * len(labels)
    for b, (name, colour, _) in enumerate(series):
        parts.append(f'<rect x="{left}" y="{y + 16 * b}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{left + 14}" y="{y + 16 * b + 9}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


# -- general line charts and bar panels (notebook 10's simulator) -------------------

def _svg_open(width, height, title):
    """The opening tag and the centred title of a general chart."""
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
              height=260, dashed=(), marker=None):
    """A line chart: x values, and {name: y values}; the legend sits at the right.

    `xticks` and `yticks` are lists of (value, label) for the axes, e.g. for a
    log scale; by default the y axis starts at 0 and both get round numbers.
    Series named in `dashed` are drawn dashed and on top, so a line that lies
    on another stays visible.  `marker` = (x value, label) draws a labelled
    vertical line there.
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
    order = sorted(enumerate(series.items()), key=lambda item: item[1][0] in dashed)
    for i, (name, ys) in order:
        colour = _SERIES[i % len(_SERIES)]
        dash = ' stroke-dasharray="6 4"' if name in dashed else ""
        points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x, ys))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"{dash}/>'
                     f'<line x1="{right + 10}" x2="{right + 28}" y1="{top + 14 * i}" y2="{top + 14 * i}" '
                     f'stroke="{colour}" stroke-width="2"{dash}/><text x="{right + 33}" '
                     f'y="{top + 14 * i + 4}">{html.escape(str(name))}</text>')
    if marker is not None:
        at, label = marker
        parts.append(f'<line x1="{px(at):.1f}" x2="{px(at):.1f}" y1="{top}" y2="{bottom}" stroke="#000000" '
                     f'stroke-dasharray="2 3"/><text x="{px(at) + 4:.1f}" y="{top + 10}">'
                     f'{html.escape(str(label))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_panels(panels, *, title="", width=720, row=16):
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
                         f'height="{row - 4}" fill="{_SERIES[p % len(_SERIES)]}"/>'
                         f'<text x="{x0 + bar + 4:.1f}" y="{40 + row * i + 11}">{value:.3g}</text>')
    parts.append("</svg>")
    return "".join(parts)


# -- the TTL timeline as SVG (notebook 02) ------------------------------------------

def svg_ttl_timeline(run, *, width=600):
    """Return a TTLRun as SVG: each entry's lifetime a grey bar, each request a hit dot or miss cross."""
    keys = sorted({s.key for s in run.steps}, key=str)
    height = 70 + 30 * len(keys)
    left, right, top = 40, width - 110, 30
    end = max([s.time for s in run.steps] + [life.expires for life in run.lifetimes])
    start = min(s.time for s in run.steps)

    def x(t):
        return left + (t - start) / ((end - start) or 1) * (right - left)

    def y(key):
        return top + 15 + 30 * keys.index(key)

    hits = sum(s.hit for s in run.steps)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             f'<text x="{(left + right) / 2}" y="16" text-anchor="middle" font-size="13">'
             f'TTL {run.ttl:g} s</text>']
    axis = top + 30 * len(keys) + 5
    ticks = sorted({round(t, 6) for t in (*(s.time for s in run.steps), end)})
    for t in ticks:
        parts.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{axis}" stroke="#f0f0f0"/>'
                     f'<text x="{x(t):.1f}" y="{axis + 14}" text-anchor="middle">{t:g}</text>')
    parts.append(f'<text x="{(left + right) / 2}" y="{axis + 30}" text-anchor="middle">'
                 f'time (s); grey bar = entry alive until its TTL runs out</text>')
    for key in keys:
        parts.append(f'<text x="{left - 8}" y="{y(key) + 4}" text-anchor="end">'
                     f'{html.escape(str(key))}</text>')
    for life in run.lifetimes:
        parts.append(f'<rect x="{x(life.stored):.1f}" y="{y(life.key) - 6}" '
                     f'width="{x(life.expires) - x(life.stored):.1f}" height="12" '
                     f'fill="{NEUTRAL}" stroke="#888888"/>')
    for s in run.steps:
        cx, cy = x(s.time), y(s.key)
        if s.hit:
            parts.append(f'<circle cx="{cx:.1f}" cy="{cy}" r="6" fill="{HIT}"/>')
        else:
            parts.append(f'<path d="M{cx - 5:.1f},{cy - 5} l10,10 m0,-10 l-10,10" '
                         f'stroke="{MISS}" stroke-width="3"/>')
    parts.append(f'<circle cx="{right + 20}" cy="{top + 10}" r="6" fill="{HIT}"/>'
                 f'<text x="{right + 32}" y="{top + 14}">hit ({hits})</text>'
                 f'<path d="M{right + 15},{top + 25} l10,10 m0,-10 l-10,10" stroke="{MISS}" '
                 f'stroke-width="3"/><text x="{right + 32}" y="{top + 34}">'
                 f'miss ({len(run.steps) - hits})</text></svg>')
    return "".join(parts)
