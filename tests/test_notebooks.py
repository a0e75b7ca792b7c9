"""Checks on the notebooks as files; nbval runs them (see pyproject.toml)."""

import json
import pathlib
import re
import shutil
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import notebooks as nbtool  # noqa: E402

ALL = sorted((ROOT / "notebooks").glob("*.ipynb"))


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_there_is_a_course():
    names = [p.name for p in ALL]
    assert "00-index.ipynb" in names
    assert "01-why-cache.ipynb" in names


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_saved_executed_top_to_bottom(path):
    """Strict nbval passes vacuously on a notebook saved without outputs."""
    code = [c for c in load(path)["cells"] if c["cell_type"] == "code"]
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: re-run it with `make notebooks`"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_no_saved_errors(path):
    for cell in load(path)["cells"]:
        if "raises-exception" in cell.get("metadata", {}).get("tags", []):
            continue
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{path.name}: {out.get('ename')}"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_first_cell_is_one_h1(path):
    first = load(path)["cells"][0]
    assert first["cell_type"] == "markdown"
    assert "".join(first["source"]).startswith("# ")


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_links_point_at_files(path):
    """A broken Contents link is easy to make and hard to notice."""
    for cell in load(path)["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        for target in re.findall(r"\]\(([^)#\s]+)\)", "".join(cell["source"])):
            if "://" in target:
                continue
            assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


def test_navigation_is_up_to_date(tmp_path):
    copy = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", copy)
    nbtool.write_index(copy)
    nbtool.write_navigation(copy)
    for path in ALL:
        assert (copy / path.name).read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), (
            f"{path.name}: navigation is stale; run `make nav`")


@pytest.mark.parametrize("path", [p for p in ALL if p.name != "00-index.ipynb"], ids=lambda p: p.name)
def test_notebook_shape(path):
    """Title, purpose, one imports cell, then a summary and exercises."""
    text = [("".join(c["source"])) for c in load(path)["cells"] if c["cell_type"] == "markdown"]
    headings = [line for t in text for line in t.splitlines() if line.startswith("## ")]
    assert "## Summary" in headings and "## Exercises" in headings, path.name
    assert headings.index("## Summary") < headings.index("## Exercises")


# Each notebook's exercises are nbgrader cells: tests/test_assignments.py runs them,
# solved from the source and unsolved as a student gets them.
