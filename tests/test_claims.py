"""Every figure the prose of a notebook quotes from a measurement is one its saved outputs back.

A *figure* is a number in a markdown cell written the way a measurement is: a time (``142.6 µs``,
``50 ms``), a ratio (``353x``), a percentage, percentage points, bytes, or a count of hits, misses,
loads, requests, keys... (``FIGURE`` below). Numbers without such a unit (a Zipf α, a cache size,
``maxsize=2``) and anything inside a code span are not figures. A figure is backed when

* the same figure, number and unit, appears in a saved output of the notebook; or
* a ``[[claim]]`` of the notebook's table ``notebooks/claims/NN.toml`` covers it: the claim's ``text``
  (a phrase of the prose holding exactly one figure) names the ``cell`` (its id) whose saved output
  holds the measurement, an ``output`` regex whose first group is that value, an optional ``scale``
  (the output's value times ``scale`` is in the prose's unit) and the relative ``tolerance`` within
  which the prose must agree (0 when absent). A range (``100–150 bytes``) agrees when the value lies
  in it, widened by the tolerance; or
* a ``[given]`` phrase covers it: a figure the prose sets rather than measures (a parameter such as
  "a 10 s TTL" or "100 threads") or quotes (the guide's "about 1 ms"), mapped to the reason.

A claim or a given phrase that is no longer in the prose fails too, so a table cannot go stale.
A notebook with no table is skipped: to cover a notebook, add its table (an empty file is a table).
"""

import html
import pathlib
import re
import tomllib

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CLAIMS = NOTEBOOKS / "claims"

NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
# A unit's spellings, the canonical one first: an output may spell it differently from the prose.
UNITS = {
    "ns": ["ns", "nanoseconds?"],
    "µs": ["µs", "μs", "us", "microseconds?"],
    "ms": ["ms", "milliseconds?"],
    "s": ["s", "seconds?", "sec"],
    "min": ["minutes?", "min"],
    "x": ["x", "×"],
    "%": ["%", "per ?cent"],
    "points": ["points?", "pp"],
    "B": ["B", "bytes?"],
    "KB": ["KB", "KiB", "kB"],
    "MB": ["MB", "MiB"],
}
COUNTS = ["hits", "misses", "loads", "requests", "lookups", "keys", "entries", "reads", "writes",
          "expiries", "evictions", "queries", "round trips", "stale reads", "lost writes"]
for _word in COUNTS:
    UNITS[_word] = [_word]
_UNIT = "|".join(f"(?:{spelling})" for spellings in UNITS.values() for spelling in spellings)
FIGURE = re.compile(
    rf"(?<![\w.,])(?P<lo>{NUMBER})(?:\s*(?:–|-|to)\s*(?P<hi>{NUMBER}))?(?:\s|\u202f|\u00a0)?"
    rf"(?P<unit>{_UNIT})(?![\w/])")
CODE_SPAN = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def _canonical(unit):
    for name, spellings in UNITS.items():
        if any(re.fullmatch(spelling, unit) for spelling in spellings):
            return name
    raise ValueError(unit)


def _number(text):
    return float(text.replace(",", ""))


def _plain(text):
    """Output or prose text with dashes unified and thousands separators dropped."""
    text = text.replace("–", "-").replace("−", "-")
    return re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)


def figures(prose):
    """(start, end, low, high, unit) of each figure in a markdown text, code spans left out."""
    blanked = CODE_SPAN.sub(lambda m: " " * len(m.group()), prose)
    for m in FIGURE.finditer(blanked):
        lo = _number(m["lo"])
        hi = _number(m["hi"]) if m["hi"] else lo
        yield m.start(), m.end(), lo, hi, _canonical(m["unit"])


def cell_output_text(cell):
    """Everything a code cell printed or returned, as text (HTML tables with their tags dropped)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        data = out.get("data", {})
        parts.append(data.get("text/plain", ""))
        if "text/html" in data:
            parts.append(html.unescape(re.sub(r"<[^>]+>", " ", data["text/html"])))
    return "".join(p if isinstance(p, str) else "".join(p) for p in parts)


def _in_outputs(figure, outputs):
    _, _, lo, hi, unit = figure
    spellings = "|".join(f"(?:{s})" for s in UNITS[unit])

    def num(value):
        text = f"{value:g}" if value != int(value) else str(int(value))
        return re.escape(text) + (r"(?:\.0+)?" if value == int(value) else r"0*")

    rng = num(lo) if lo == hi else rf"{num(lo)}\s*(?:-|to)\s*{num(hi)}"
    return re.search(rf"(?<![\w.]){rng}\s?(?:{spellings})(?![\w/])", outputs) is not None


def _load_table(path):
    table = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    unknown = set(table) - {"claim", "given"}
    if unknown:
        raise ValueError(f"{path.name}: unknown sections {sorted(unknown)}; use [[claim]] and [given]")
    return table.get("claim", []), table.get("given", {})


def _spans(phrase, texts):
    """(cell index, start, end) of every occurrence of a phrase in the prose."""
    return [(i, m.start(), m.end()) for i, text in enumerate(texts)
            for m in re.finditer(re.escape(phrase), text)]


def problems(nb, claims=(), given=None):
    """What the prose of a notebook says that its saved outputs do not back: a list of messages."""
    given = given or {}
    cells = {cell.get("id"): cell for cell in nb.cells}
    prose = [cell.source for cell in nb.cells
             if cell.cell_type == "markdown" and "navigation" not in cell.metadata.get("tags", [])]
    outputs = _plain("\n".join(cell_output_text(c) for c in nb.cells if c.cell_type == "code"))
    found, covered = [], []
    for claim in claims:
        text = claim.get("text", "")
        spans = _spans(text, prose)
        inside = list(figures(text))
        if not spans:
            found.append(f"claim {text!r} is not in the prose (reword the table with the prose)")
            continue
        if len(inside) != 1:
            found.append(f"claim {text!r} must hold exactly one figure, holds {len(inside)}")
            continue
        cell = cells.get(claim.get("cell"))
        if cell is None or cell.cell_type != "code":
            found.append(f"claim {text!r}: no code cell with id {claim.get('cell')!r}")
            continue
        match = re.search(claim["output"], _plain(cell_output_text(cell)))
        if match is None:
            found.append(f"claim {text!r}: cell {claim['cell']} printed nothing matching {claim['output']!r}")
            continue
        value = _number(match.group(1)) * claim.get("scale", 1)
        tolerance = claim.get("tolerance", 0)
        _, _, lo, hi, _ = inside[0]
        if not lo * (1 - tolerance) - 1e-9 <= value <= hi * (1 + tolerance) + 1e-9:
            found.append(f"claim {text!r}: the output says {value:g}, outside the prose's figure "
                         f"within a tolerance of {tolerance:g}")
        covered += spans
    for phrase, reason in given.items():
        spans = _spans(phrase, prose)
        if not spans:
            found.append(f"given {phrase!r} ({reason}) is not in the prose")
        covered += spans
    for i, text in enumerate(prose):
        for figure in figures(text):
            start, end = figure[:2]
            if any(j == i and s <= start and end <= e for j, s, e in covered):
                continue
            if not _in_outputs(figure, outputs):
                found.append(f"{text[start:end]!r} in {text[max(0, start - 50):end + 20]!r} is backed "
                             "by no output, claim or given phrase")
    return found


def _table_of(path):
    return CLAIMS / f"{path.name[:2]}.toml"


NUMBERED = sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb") if not p.name.startswith("00"))


@pytest.mark.parametrize("path", NUMBERED, ids=lambda p: p.name)
def test_every_figure_in_the_prose_is_backed_by_an_output(path):
    table = _table_of(path)
    if not table.exists():
        pytest.skip(f"no claims table yet ({table.relative_to(ROOT)})")
    nb = nbformat.read(path, as_version=4)
    claims, given = _load_table(table)
    assert problems(nb, claims, given) == []


def test_every_table_names_a_notebook():
    stems = {p.name[:2] for p in NUMBERED}
    assert [t.name for t in CLAIMS.glob("*.toml") if t.stem not in stems] == []


# The test of the test: a notebook that contradicts its own output fails, one that agrees passes.

def _notebook(prose, printed, cell_id="timing"):
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("print(table)", id=cell_id)
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    nb.cells = [nbformat.v4.new_markdown_cell(prose, id="prose"), code]
    return nb


TIMING = "lookup     p50 µs\nRedis hit   142.6\nspeed-up of a hit over the miss: 353x\n"
P50 = {"cell": "timing", "output": r"Redis hit\s+([\d.]+)"}


def test_figure_copied_from_the_output_is_backed():
    assert problems(_notebook("A hit is 353x faster than the miss.", TIMING)) == []


def test_figure_the_output_contradicts_fails():
    assert len(problems(_notebook("A hit is 354x faster than the miss.", TIMING))) == 1
    assert len(problems(_notebook("A Redis hit costs tens of µs, about 50 µs here.", TIMING))) == 1


def test_claim_within_tolerance_passes_and_outside_fails():
    prose = "A Redis hit costs about 140 µs on loopback."
    assert problems(_notebook(prose, TIMING), [{**P50, "text": "about 140 µs", "tolerance": 0.1}]) == []
    wrong = _notebook("A Redis hit costs about 50 µs on loopback.", TIMING)
    (message,) = problems(wrong, [{**P50, "text": "about 50 µs", "tolerance": 0.1}])
    assert "142.6" in message


def test_range_and_scale():
    prose = "A Redis hit costs 0.1–0.2 ms here."
    assert problems(_notebook(prose, TIMING), [{**P50, "text": "0.1–0.2 ms", "scale": 0.001}]) == []
    assert problems(_notebook("It costs 0.2–0.3 ms.", TIMING), [{**P50, "text": "0.2–0.3 ms", "scale": 0.001}])


def test_given_figures_are_parameters_not_measurements():
    prose = "With a 10 s TTL and 100 requests, a hit is 353x faster."
    assert len(problems(_notebook(prose, TIMING))) == 2
    given = {"a 10 s TTL": "the TTL the cell sets", "100 requests": "the cell's request count"}
    assert problems(_notebook(prose, TIMING), given=given) == []


def test_stale_table_entries_fail():
    nb = _notebook("A hit is 353x faster.", TIMING)
    assert len(problems(nb, given={"a 10 s TTL": "a parameter no longer in the prose"})) == 1
    assert len(problems(nb, [{**P50, "text": "about 140 µs", "tolerance": 0.1}])) == 1
    assert len(problems(nb, [{**P50, "text": "353x", "cell": "nowhere"}])) == 1


def test_numbers_without_a_unit_and_code_spans_are_not_figures():
    prose = "Zipf(1.0) over 2,000 items with `sleep(0.05)` and `ttl=10 s`; see notebook 06."
    assert list(figures(prose)) == []
    assert [f[2:] for f in figures("about 65 bytes, 4.7 µs and 100–150 B")] == [
        (65, 65, "B"), (4.7, 4.7, "µs"), (100, 150, "B")]


def test_a_real_notebook_that_contradicts_its_output_fails():
    """09 with the figure it used to print in its prose ("50 µs" for a Redis hit) fails against its own table."""
    path = NOTEBOOKS / "09-redis-vs-in-memory.ipynb"
    nb = nbformat.read(path, as_version=4)
    claims, given = _load_table(_table_of(path))
    assert problems(nb, claims, given) == []
    nb.cells.append(nbformat.v4.new_markdown_cell("On loopback a Redis hit costs about 50 µs."))
    (message,) = problems(nb, claims, given)
    assert "50 µs" in message
