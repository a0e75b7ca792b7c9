"""nbgrader's whole round trip, with its own CLI and gradebook, on a copy of the classroom.

One representative assignment (01-why-cache) goes out as a release, comes
back from three students (solved, unsolved, half-solved) and a fourth whose
notebook is corrupt, and is autograded once; a second, tiny assignment has a
widget cell and a cell that never finishes, to show that neither stalls
grading.  The last test follows the teacher's guide through hand-grading and
re-grading with make, on the same graded course.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import assignments  # noqa: E402
from test_classroom_safety import tree_hashes  # noqa: E402

ASSIGNMENT = "01-why-cache"
WIDGETS = "widget-check"
SOLVED, UNSOLVED, HALF, CORRUPT = "ada", "bob", "cy", "zed"
GRADING = {}   # what the fixture's one autograde run printed, returned and changed


def _nbgrader_cell(cell_type, source, grade_id, **flags):
    make = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
    cell = make(source)
    cell.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": False, "task": False,
                                 "schema_version": 3, "grade_id": grade_id, **flags}
    return cell


def widget_notebook():
    """A widget cell (saved with its widget output, as a real run leaves it), a cell that hangs, a check."""
    widget = nbformat.v4.new_code_cell("_ = interact(lambda n: 2 * n, n=(0, 9))")
    widget.outputs = [nbformat.v4.new_output(
        "display_data", data={"text/plain": "interactive(...)",
                              assignments.WIDGET_MIME: {"model_id": "0", "version_major": 2, "version_minor": 0}})]
    return nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        cells=[
            nbformat.v4.new_markdown_cell("# Widgets do not stall grading"),
            nbformat.v4.new_code_cell("from ipywidgets import interact"),
            widget,
            nbformat.v4.new_code_cell("import time\ntime.sleep(600)  # a cell that never finishes"),
            _nbgrader_cell("code", "answer = None\n### BEGIN SOLUTION\nanswer = 2 * 21\n### END SOLUTION",
                           "answer", solution=True),
            _nbgrader_cell("code", '"""Checks that the cells after a hung one still run."""\n'
                           "assert answer is not None and answer > 40, 'reconsider the answer'",
                           "correct_after_hang", grade=True, locked=True, points=1),
        ])


def fill(release, source, keep=lambda grade_id: True):
    """A student's copy: the release with the chosen solution cells answered from the source."""
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells if "nbgrader" in c.metadata}
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and keep(grade_id):
            cell.source = "\n".join(line for line in answers[grade_id].splitlines() if "SOLUTION" not in line)
    return nb


def submit(course, student, assignment, nb):
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{assignment}.ipynb")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Release, four submissions of 01 (one corrupt) and one of the widget check, autograded once."""
    course = tmp_path_factory.mktemp("classroom")
    shutil.copy(ROOT / "classroom" / "nbgrader_config.py", course)
    with open(course / "nbgrader_config.py", "a", encoding="utf-8") as config:
        config.write("\nc.Execute.timeout = 3  # the hung cell's budget in this test\n")
    (course / "source" / WIDGETS).mkdir(parents=True)
    nbformat.write(assignments.tag_widget_cells(widget_notebook()), course / "source" / WIDGETS / f"{WIDGETS}.ipynb")
    assignments.release([ROOT / "notebooks" / f"{ASSIGNMENT}.ipynb"], course=course)

    source = nbformat.read(ROOT / "notebooks" / f"{ASSIGNMENT}.ipynb", as_version=4)
    release = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    submit(course, SOLVED, ASSIGNMENT, fill(release, source))
    submit(course, UNSOLVED, ASSIGNMENT, release)
    half = fill(release, source, keep=lambda grade_id: grade_id == "hit_ratio")
    for cell in half.cells:  # right for real counts, forgets the cache nobody has asked yet
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "hit_ratio":
            cell.source = re.sub(r"lookups = .*\n.*", "return info.hits / (info.hits + info.misses)",
                                 cell.source, flags=re.S)
    submit(course, HALF, ASSIGNMENT, half)
    widgets = nbformat.read(course / "release" / WIDGETS / f"{WIDGETS}.ipynb", as_version=4)
    submit(course, SOLVED, WIDGETS, fill(widgets, widget_notebook()))
    (course / "submitted" / CORRUPT / ASSIGNMENT).mkdir(parents=True)
    (course / "submitted" / CORRUPT / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").write_text('{"cells": [', encoding="utf-8")

    before = tree_hashes(course)
    lines = []
    GRADING["failures"] = assignments.autograde(course=course, say=lines.append)
    GRADING["log"] = lines
    after = tree_hashes(course)
    GRADING["changed"] = {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}
    return course


def grades(course, student, assignment=ASSIGNMENT):
    """{grade_id: (score, max_score, needs_manual_grade)} from nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        notebook = gb.find_submission_notebook(assignment, assignment, student)
        return {g.name: (g.score, g.max_score, g.needs_manual_grade) for g in notebook.grades}


def test_release_holds_no_answers(course):
    """The student release: no solutions, no hidden tests, no answer keys."""
    text = (course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text(encoding="utf-8")
    source = nbformat.read(ROOT / "notebooks" / f"{ASSIGNMENT}.ipynb", as_version=4)
    for marker in ["BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "Answer key", "lookups = info.hits"]:
        assert marker not in text
    for cell in source.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "markdown":
            assert cell.source[40:120] not in text


def test_solved_copy_gets_full_marks(course):
    """Every check passes; the open answers wait for the teacher, who then gives full marks."""
    from nbgrader.api import Gradebook

    got = grades(course, SOLVED)
    checks = {k: v for k, v in got.items() if k.startswith("correct_")}
    assert checks and all(score == top for score, top, _ in checks.values())
    assert all(manual for k, (_, _, manual) in got.items() if k.startswith("answer_"))
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for grade in gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, SOLVED).grades:
            if grade.needs_manual_grade:
                grade.manual_score = grade.max_score
        gb.db.commit()
        submission = gb.find_submission(ASSIGNMENT, SOLVED)
        assert submission.score == submission.max_score == 6


def test_unsolved_copy_scores_zero_everywhere(course):
    got = grades(course, UNSOLVED)
    assert len(got) == 5 and all(score == 0 and not manual for score, _, manual in got.values())


def test_half_solved_copy_gets_partial_credit(course):
    got = grades(course, HALF)
    assert got["correct_hit_ratio"][0] == 2 and got["correct_hit_ratio_no_lookups"][0] == 0
    assert sum(score for score, _, _ in got.values()) == 2


def test_feedback_says_what_to_reconsider_without_the_answer(course):
    """Plain words for an unanswered or wrong exercise; no hidden test and no solution in the HTML."""
    unsolved = (course / "feedback" / UNSOLVED / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text(encoding="utf-8")
    half = (course / "feedback" / HALF / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text(encoding="utf-8")
    assert "Not answered yet" in unsolved
    assert "reconsider that case" in half
    for html in (unsolved, half):
        assert "HIDDEN TESTS" not in html and "999, 1" not in html
        assert "if lookups else" not in html


def test_widget_cells_are_skipped_and_a_hung_cell_is_interrupted(course):
    """Grading finished: the widget cell never ran, the hung cell timed out, the check after it passed."""
    graded = nbformat.read(course / "autograded" / SOLVED / WIDGETS / f"{WIDGETS}.ipynb", as_version=4)
    widget, hung = graded.cells[2], graded.cells[3]
    assert assignments.SKIP_TAG in widget.metadata["tags"] and widget.execution_count is None
    assert any(out.output_type == "error" for out in hung.outputs)
    assert grades(course, SOLVED, WIDGETS)["correct_after_hang"][0] == 1


def test_a_corrupt_submission_does_not_stop_the_class(course):
    """zed's broken notebook is reported by student and notebook; everyone else is graded and gets feedback."""
    assert list(GRADING["failures"]) == [(CORRUPT, ASSIGNMENT)]
    assert "JSON" in GRADING["failures"][(CORRUPT, ASSIGNMENT)]
    assert any(line.startswith(f"NOT GRADED {CORRUPT} / {ASSIGNMENT}: ") for line in GRADING["log"])
    for student in (SOLVED, UNSOLVED, HALF):
        assert (course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").is_file(), student
    assert (course / "feedback" / SOLVED / WIDGETS / f"{WIDGETS}.html").is_file()
    assert not (course / "feedback" / CORRUPT).exists()


def test_grading_changes_nothing_but_its_own_output(course):
    """Byte for byte: the submissions, the release and the config are as they were; only grades were written."""
    changed = GRADING["changed"]
    assert changed, "the test must see grading write something"
    outputs = ("autograded/", "feedback/", "gradebook.db", ".nbgrader.log")
    assert [path for path in changed if not path.startswith(outputs)] == []


def test_the_grading_log_shows_only_what_needs_attention(course):
    """Progress, the timeout, the score table and the broken submission; none of nbgrader's routine noise."""
    expected = [r"grading \w+ / [\w-]+", rf"{SOLVED} / {WIDGETS}: a cell ran out of time \(3 s\)",
                r"student +assignment", r"\w+ +[\w-]+ +[\d.]+ / \d+ +[\d.]+ / \d+", rf"NOT GRADED {CORRUPT} / ",
                r"student release in ", r"feedback in "]
    unexpected = [line for line in GRADING["log"] if not any(re.match(p, line) for p in expected)]
    assert unexpected == []
    text = "\n".join(GRADING["log"])
    for noise in ["checksum", "not in session", "SAWarning", "TCP", "INFO", "Traceback", "CalledProcessError"]:
        assert noise not in text


def test_the_score_table_keeps_checks_and_hand_graded_answers_apart(course):
    """ada's perfect code reads 3 / 3, with her open answers waiting for the teacher, not 3.0 / 6."""
    row = next(line for line in GRADING["log"] if re.match(rf"{SOLVED} +{ASSIGNMENT} ", line))
    assert re.search(r" 3 / 3 +0 / 3 +3 to grade in the formgrader$", row), row
    assert "/ 6" not in row


def test_a_timed_out_cell_says_so_in_plain_words(course):
    """The student reads that the cell ran out of time and how long it had; no bare interrupt."""
    html = (course / "feedback" / SOLVED / WIDGETS / f"{WIDGETS}.html").read_text(encoding="utf-8")
    assert "This cell ran out of time: it had 3 seconds" in html
    assert "KeyboardInterrupt" not in html and "CellTimeoutError" not in html


def test_release_comes_without_outputs_and_links_only_inside_its_folder(course):
    """No outputs, no navigation cells, no link to a notebook the student's folder does not have."""
    folder = course / "release" / ASSIGNMENT
    nb = nbformat.read(folder / f"{ASSIGNMENT}.ipynb", as_version=4)
    assert not any(cell.get("outputs") for cell in nb.cells)
    assert not any(assignments.NAV_TAG in cell.metadata.get("tags", []) for cell in nb.cells)
    for cell in nb.cells:
        for match in assignments.LINK.finditer(cell.source if cell.cell_type == "markdown" else ""):
            target = match["target"].split("#")[0]
            assert re.match(r"^[a-z]+:", match["target"]) or not target or (folder / target).exists(), target


def test_feedback_says_when_open_answers_wait_for_the_teacher(course):
    """Before hand-grading, ada's page says her code has all its points and her open answers are not graded yet."""
    html = (course / "feedback" / SOLVED / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text(encoding="utf-8")
    assert "Not final yet:</strong> 3 of your answers wait for your teacher" in html
    assert "Your code scored 3 of 3 points" in html
    unsolved = (course / "feedback" / UNSOLVED / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text(encoding="utf-8")
    assert "Not final yet" not in unsolved  # unanswered questions score 0 at once


def regrading_steps():
    """The make commands of the teacher's guide's re-grading block, in order."""
    guide = (ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")
    block = re.search(r"\*\*Re-grading\.\*\*.*?```bash\n(.*?)```", guide, flags=re.S).group(1)
    return [line.split("#")[0].split() for line in block.splitlines() if line.startswith("make ")]


def test_the_guides_regrading_steps_show_the_hand_grades(course):
    """Hand-grade ada's open answers in the gradebook, run the guide's steps: her feedback has the new score.

    Her regrade (`make autograde NB=... STUDENT=...`) runs her notebook alone,
    leaves the hand grades settled, and rewrites no other student's grading.
    """
    from nbgrader.api import Gradebook

    steps = regrading_steps()
    assert ["make", "feedback"] in steps
    assert any(step[:2] == ["make", "autograde"] and f"STUDENT={SOLVED}" in step for step in steps)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:  # what the formgrader does
        for grade in gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, SOLVED).grades:
            if grade.name.startswith("answer_"):
                grade.manual_score, grade.needs_manual_grade = 0.5, False
        gb.db.commit()
    others = {s: tree_hashes(course / "autograded" / s) for s in (UNSOLVED, HALF)}
    printed = ""
    for step in steps:
        # make as the teacher runs it, but with this interpreter and without reinstalling the package
        run = subprocess.run([*step[:2], "-s", "VENV=.venv", "-o", ".venv/.installed-lab", f"PY={sys.executable}",
                              f"CLASSROOM={course}", *step[2:]], cwd=ROOT, capture_output=True, text=True,
                             env={**os.environ, "MAKEFLAGS": ""})
        assert run.returncode == 0, run.stdout + run.stderr
        printed += run.stdout
        html = (course / "feedback" / SOLVED / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text(encoding="utf-8")
        assert "Score: 4.5 / 6.0" in html and "Not final yet" not in html, f"after {' '.join(step)}"

    answers = {k: v for k, v in grades(course, SOLVED).items() if k.startswith("answer_")}
    assert answers and all(score == 0.5 and not manual for score, _, manual in answers.values())
    assert re.search(rf"{SOLVED} +{ASSIGNMENT} +3 / 3 +1.5 / 3$", printed, flags=re.M), printed
    assert {s: tree_hashes(course / "autograded" / s) for s in (UNSOLVED, HALF)} == others
