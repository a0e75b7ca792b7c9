"""The course notebooks as nbgrader assignments: one source, honest checks, no answers in a student copy.

These run without a kernel: each notebook's code cells are executed in this
process, once as the instructor source (every check must pass) and once as
the student copy nbgrader's preprocessors make (every check must fail, in
plain words).  tests/test_assignments_roundtrip.py runs nbgrader itself.
"""

import ast
import contextlib
import copy
import io
import json
import pathlib
import re
import sys

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import assignments  # noqa: E402

NUMBERED = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
COURSE = [p for p in NUMBERED if p.name != "00-index.ipynb"]
ASSIGNMENTS = assignments.assignments()


def read(path):
    return nbformat.read(path, as_version=4)


def meta(cell):
    return cell.metadata.get("nbgrader", {})


def visible(source):
    """A test cell's source without its hidden tests."""
    return re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", source, flags=re.S)


def solution_lines(nb):
    """Every meaningful line of the solutions and answer keys in a source notebook."""
    lines = []
    for cell in nb.cells:
        if not meta(cell).get("solution"):
            continue
        text = cell.source
        if cell.cell_type == "code":
            regions = re.findall(r"### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", text, flags=re.S)
            text = "\n".join(regions)
        lines += [line.strip() for line in text.splitlines() if len(line.strip()) > 12]
    return lines


def test_every_course_notebook_is_an_assignment():
    """Each numbered notebook has checked exercises and answer cells for its open questions."""
    assert [p.name for p in ASSIGNMENTS] == [p.name for p in COURSE]


@pytest.mark.parametrize("path", ASSIGNMENTS, ids=lambda p: p.name)
def test_nbgrader_metadata(path):
    """Schema 3, unique grade ids, points on graded cells, a docstring atop every check."""
    nb = read(path)
    MetadataValidator().validate_nb(nb)
    cells = [c for c in nb.cells if meta(c)]
    assert all(meta(c)["schema_version"] == 3 for c in cells)
    tests = [c for c in cells if meta(c)["grade"] and c.cell_type == "code"]
    answers = [c for c in cells if meta(c)["grade"] and c.cell_type == "markdown"]
    assert tests and answers, f"{path.name}: needs checked exercises and open-question answer cells"
    for cell in tests:
        assert meta(cell)["grade_id"].startswith("correct_") and meta(cell)["points"] > 0
        assert ast.get_docstring(ast.parse(cell.source)), f"{meta(cell)['grade_id']}: say what it checks"
    for cell in answers:
        assert meta(cell)["grade_id"].startswith("answer_") and cell.source.startswith("**Answer key.**")
    for cell in cells:
        if meta(cell)["solution"] and cell.cell_type == "code":
            assert "### BEGIN SOLUTION" in cell.source, f"{meta(cell)['grade_id']}: mark the solution"


@pytest.mark.parametrize("path", ASSIGNMENTS, ids=lambda p: p.name)
def test_visible_checks_do_not_give_the_answer_away(path):
    """A student sees the visible checks: none compares with a literal string answer."""
    for cell in read(path).cells:
        if meta(cell).get("grade") and cell.cell_type == "code":
            assert not re.search(r"==\s*[\"']", visible(cell.source)), meta(cell)["grade_id"]


def _run(cells, namespace):
    """Execute code cells in order; return {grade_id: the exception or None} for the graded ones."""
    results = {}
    for cell in cells:
        if cell.cell_type != "code" or assignments.SKIP_TAG in cell.metadata.get("tags", []):
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(cell.source, meta(cell).get("grade_id", "cell"), "exec"), namespace)
            error = None
        except Exception as exc:  # a check failing is what we look at
            error = exc
        if meta(cell).get("grade"):
            results[meta(cell)["grade_id"]] = error
        elif error is not None and not meta(cell).get("solution"):
            raise error
    return results


@pytest.mark.parametrize("path", ASSIGNMENTS, ids=lambda p: p.name)
def test_checks_pass_with_the_solution_and_fail_without(path, tmp_path, monkeypatch):
    """Run the notebook as the grader would: its source passes every check; its student copy none."""
    import matplotlib

    matplotlib.use("Agg")  # in this process only; nbval's kernels keep their own backend
    import matplotlib.pyplot as plt

    monkeypatch.chdir(path.parent)
    source = assignments.tag_widget_cells(read(path))
    student = assignments.student_copy(copy.deepcopy(source))
    first = next(i for i, c in enumerate(source.cells) if meta(c))
    namespace = {"__name__": "__main__"}
    _run(source.cells[:first], namespace)
    unsolved = _run(student.cells[first:], dict(namespace))
    solved = _run(source.cells[first:], namespace)
    plt.close("all")

    assert solved and all(error is None for error in solved.values()), solved
    for grade_id, error in unsolved.items():
        assert isinstance(error, (AssertionError, NotImplementedError)), f"{grade_id}: {error!r}"
        assert str(error).strip(), f"{grade_id} fails without saying why"


@pytest.mark.parametrize("path", ASSIGNMENTS, ids=lambda p: p.name)
def test_student_copy_holds_no_answers(path):
    """Solutions, answer keys and hidden tests never reach a student copy."""
    nb = read(path)
    text = json.dumps(assignments.student_copy(copy.deepcopy(nb)))
    for marker in ["BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "Answer key"]:
        assert marker not in text
    leaked = [line for line in solution_lines(nb) if json.dumps(line)[1:-1] in text]
    assert not leaked, f"{path.name}: solution text in the student copy: {leaked[:3]}"


def test_self_study_copy(tmp_path):
    """make lab's copy: every notebook, no answers, working links, and a learner's edits kept."""
    assignments.self_study(tmp_path)
    names = sorted(p.name for p in tmp_path.glob("*.ipynb"))
    assert names == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    for path in tmp_path.glob("*.ipynb"):
        text = path.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "Answer key" not in text, path.name
        for target in re.findall(r"\]\(([^)#\s]+\.ipynb)\)", text):
            assert (tmp_path / target).exists(), f"{path.name} links to missing {target}"
    mine = tmp_path / COURSE[0].name
    mine.write_text(mine.read_text(encoding="utf-8").replace("YOUR ANSWER HERE", "my answer"))
    assignments.self_study(tmp_path)
    assert "my answer" in mine.read_text(encoding="utf-8")


def test_no_second_copy_of_the_answers():
    """The solutions live in the source notebooks only."""
    assert not (ROOT / "notebooks" / "solutions").exists()
    for path in NUMBERED:
        assert "%load solutions/" not in path.read_text(encoding="utf-8"), path.name


def test_teachers_guide_covers_every_notebook():
    """docs/teaching.md has a section per notebook, with its objectives, time and rubric."""
    guide = (ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^### (\d\d) .+?\n(.*?)(?=^### |\Z)", guide, flags=re.S | re.M))
    for path in COURSE:
        body = sections.get(path.name[:2])
        assert body, f"docs/teaching.md: no section for {path.name}"
        for part in ["**Objectives:**", "**Prerequisites:**", "**Time:**", "**Graded", "ubric"]:
            assert part in body, f"docs/teaching.md, {path.name}: {part} missing"
        for cell in read(path).cells:
            if meta(cell).get("grade"):
                assert f"`{meta(cell)['grade_id']}`" in body, f"docs/teaching.md, {path.name}: {meta(cell)['grade_id']}"


def test_only_cells_that_just_show_a_widget_are_skipped():
    """A widget cell that also defines names later cells use must still run when grading."""
    import nbformat

    widget = {"data": {assignments.WIDGET_MIME: {}}, "output_type": "display_data", "metadata": {}}
    shows = nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nlru_widget('A B', size=2)", outputs=[widget])
    defines = nbformat.v4.new_code_cell("warm = {}\nprewarm(warm, keys, load)", outputs=[widget])
    plain = nbformat.v4.new_code_cell("_ = interact(f, x=1)")
    nb = assignments.tag_widget_cells(nbformat.v4.new_notebook(cells=[shows, defines, plain]))
    assert [assignments.SKIP_TAG in c.metadata.get("tags", []) for c in nb.cells] == [True, False, False]


def test_teachers_guide_names_each_file_by_its_title():
    """Each section's heading is the notebook's own H1, and the section names the file."""
    guide = (ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")
    for path in NUMBERED:
        first = read(path).cells[0].source.strip()
        title = re.match(r"#\s+(.+)", first).group(1).strip()
        assert f"\n### {path.name[:2]} {title}\n" in guide, f"docs/teaching.md: heading for {path.name}"
        section = guide.split(f"\n### {path.name[:2]} {title}\n")[1].split("\n### ")[0]
        assert f"`notebooks/{path.name}`" in section, f"docs/teaching.md does not name {path.name}"
    assert ".venv/bin/nbgrader" in guide and "without outputs" in guide


@pytest.mark.parametrize("path", ASSIGNMENTS, ids=lambda p: p.name)
def test_release_copy_links_only_inside_its_folder(path):
    """The release drops the navigation cells and unlinks every other notebook; web links stay."""
    source = read(path)
    linked = [m for c in source.cells if c.cell_type == "markdown" for m in assignments.LINK.finditer(c.source)]
    released = assignments.unlink_missing(copy.deepcopy(source), present={path.name})
    assert not any(assignments.NAV_TAG in c.metadata.get("tags", []) for c in released.cells)
    text = "\n".join(c.source for c in released.cells if c.cell_type == "markdown")
    for match in assignments.LINK.finditer(text):
        assert re.match(r"^(https?:|mailto:|#)", match["target"]) or match["target"] == path.name, match[0]
    web = [m[0] for m in linked if m["target"].startswith("http")]
    assert all(link in text for link in web)


def test_unlink_missing_keeps_only_what_the_folder_has():
    """Links to other notebooks become their text; links inside the notebook, its folder and the web stay."""
    nav = nbformat.v4.new_markdown_cell("[Contents](00-index.ipynb)", metadata={"tags": [assignments.NAV_TAG]})
    prose = nbformat.v4.new_markdown_cell(
        "See [LRU](03-lru-eviction.ipynb#steps), [above](#top), [data](data.csv), "
        "[the guide](https://example.org/a_(b)) and ![a plot](plot.png).")
    nb = assignments.unlink_missing(nbformat.v4.new_notebook(cells=[nav, prose]), present={"data.csv"})
    assert [c.source for c in nb.cells] == [
        "See LRU, [above](#top), [data](data.csv), [the guide](https://example.org/a_(b)) and ![a plot](plot.png)."]
