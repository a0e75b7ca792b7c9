"""Keep the notebook sequence tidy.

    python tools/notebooks.py nav                 # rewrite 00-index and the navigation cells
    python tools/notebooks.py execute NB.ipynb..  # run top to bottom, save with outputs

Each numbered notebook's first cell is a single H1; the index is built
from those titles.  Navigation cells carry the tag "navigation", so this
script can find and rewrite them and nothing else.
"""

import json
import pathlib
import re
import sys

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
INDEX = "00-index.ipynb"
NAV_TAG = "navigation"
NUMBERED = re.compile(r"^\d\d-[A-Za-z0-9-]+\.ipynb$")


def numbered_notebooks(folder=NOTEBOOKS):
    """The course's notebooks in order, the index excluded."""
    return sorted(p for p in folder.glob("*.ipynb") if NUMBERED.match(p.name) and p.name != INDEX)


def title(path):
    """The text of the notebook's first H1, which must be its first cell."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    first = "".join(nb["cells"][0]["source"]) if nb["cells"] else ""
    match = re.match(r"#\s+(.+)", first.strip())
    if nb["cells"][0]["cell_type"] != "markdown" or not match:
        raise SystemExit(f"{path.name}: the first cell must be a markdown H1 title")
    return match.group(1).strip()


def _nav_cell(text, cell_id):
    import nbformat

    return nbformat.v4.new_markdown_cell(text, id=cell_id, metadata={"tags": [NAV_TAG]})


def _is_nav(cell):
    return NAV_TAG in cell.get("metadata", {}).get("tags", [])


def nav_text(prev, nxt):
    parts = []
    if prev is not None:
        parts.append(f"< [{title(prev)}]({prev.name})")
    parts.append(f"[Contents]({INDEX})")
    if nxt is not None:
        parts.append(f"[{title(nxt)}]({nxt.name}) >")
    return " | ".join(parts)


def write_navigation(folder=NOTEBOOKS):
    """Put a navigation cell after the title and at the end of every notebook."""
    paths = numbered_notebooks(folder)
    for i, path in enumerate(paths):
        prev = paths[i - 1] if i > 0 else folder / INDEX
        nxt = paths[i + 1] if i + 1 < len(paths) else None
        text = nav_text(prev, nxt) if i > 0 else nav_text(None, nxt).replace(
            f"[Contents]({INDEX})", f"< [Contents]({INDEX})")
        nb = _load(path)
        cells = [c for c in nb["cells"] if not _is_nav(c)]
        nb["cells"] = [cells[0], _nav_cell(text, "nav-top"), *cells[1:], _nav_cell(text, "nav-bottom")]
        _save(path, nb)


def write_index(folder=NOTEBOOKS):
    """Rewrite the contents cell of 00-index from every notebook's title."""
    path = folder / INDEX
    nb = _load(path)
    lines = ["## Contents", ""]
    lines += [f"{i + 1}. [{title(p)}]({p.name})" for i, p in enumerate(numbered_notebooks(folder))]
    cells = [c for c in nb["cells"] if not _is_nav(c)]
    nb["cells"] = [cells[0], _nav_cell("\n".join(lines), "contents"), *cells[1:]]
    _save(path, nb)


# Read and write through nbformat, as `execute` does, so the two never
# disagree about how a saved notebook is laid out.
def _load(path):
    import nbformat

    return nbformat.read(path, as_version=4)


def _save(path, nb):
    import nbformat

    text = nbformat.writes(nb) + "\n"
    if path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def execute(paths, timeout=300):
    """Run each notebook on a fresh kernel from this environment and save it."""
    import nbformat
    from nbclient import NotebookClient

    for name in paths:
        path = pathlib.Path(name)
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            cell.metadata.pop("execution", None)
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", allow_errors=False,
            record_timing=False,  # timestamps would make every re-run a diff
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
        nbformat.write(nb, path)
        print(f"executed {path}")


def main(argv):
    if not argv or argv[0] not in {"nav", "execute"}:
        raise SystemExit(__doc__)
    if argv[0] == "nav":
        write_index()
        write_navigation()
    else:
        execute(argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
