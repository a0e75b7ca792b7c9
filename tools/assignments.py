"""One source, three copies: the course notebooks as assignments and as self-study.

    python tools/assignments.py release [NB..]      # student release, by nbgrader  (make assignments)
    python tools/assignments.py autograde           # grade classroom/submitted/, write feedback (make autograde)
    python tools/assignments.py self-study DIR      # a learner's copy of the course  (make lab)

The notebooks in notebooks/ are the instructor source.  Each exercise's
answer sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, each
open question's answer key in a markdown answer cell, and its checks in
graded cells (nbgrader metadata, schema 3) with ``### BEGIN HIDDEN TESTS``
regions.  Every other copy is generated from them by nbgrader's own
preprocessors, configured once in classroom/nbgrader_config.py:

* release/: ``nbgrader generate_assignment``, one assignment per notebook;
* self-study: the same clearing steps, all notebooks in one flat folder so
  the navigation links work, outputs kept except in exercise cells, and a
  learner's edited copy never overwritten.
"""

import ast
import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CLASSROOM = ROOT / "classroom"
SKIP_TAG = "skip-grading"                       # the grader skips cells with this tag
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def is_assignment(nb):
    """Whether a notebook has graded cells, and so is an assignment."""
    return any(_nbgrader_meta(c).get("grade") for c in nb["cells"])


def assignments(folder=NOTEBOOKS):
    """The course notebooks that are assignments, in order."""
    import nbformat

    return [p for p in sorted(folder.glob("[0-9][0-9]-*.ipynb"))
            if is_assignment(nbformat.read(p, as_version=4))]


def shows_a_widget(cell):
    """Whether a code cell displayed a widget when the source was last run."""
    return any(WIDGET_MIME in out.get("data", {}) for out in cell.get("outputs", []))


def defines_nothing(source):
    """Whether a cell only evaluates expressions (or assigns to `_`), so later cells cannot need it."""
    from IPython.core.inputtransformer2 import TransformerManager

    tree = ast.parse(TransformerManager().transform_cell(source))
    return all(isinstance(node, ast.Expr) or (
        isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id == "_" for t in node.targets))
        for node in tree.body)


def tag_widget_cells(nb):
    """Tag every cell that only shows a widget so that grading skips it; return the notebook."""
    for cell in nb.cells:
        if cell.cell_type == "code" and shows_a_widget(cell) and defines_nothing(cell.source):
            tags = cell.metadata.setdefault("tags", [])
            if SKIP_TAG not in tags:
                tags.append(SKIP_TAG)
    return nb


def config(course=CLASSROOM):
    """The course's nbgrader configuration (classroom/nbgrader_config.py)."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()


def student_copy(nb, course=CLASSROOM):
    """Clear solutions, answer keys, hidden tests and mark schemes, as nbgrader's release does."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearMarkScheme, ClearSolutions

    cfg = config(course)
    resources = {}
    for step in (ClearSolutions(config=cfg), ClearHiddenTests(config=cfg), ClearMarkScheme(config=cfg)):
        nb, resources = step.preprocess(nb, resources)
    for cell in nb.cells:
        if _nbgrader_meta(cell) and cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


# -- the classroom: nbgrader's course directory

def _venv_on_path():
    """nbgrader's gradebook runs `alembic` from PATH: put this environment's scripts first."""
    scripts = str(pathlib.Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != scripts:
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def nbgrader(*args, course=CLASSROOM):
    """Run one nbgrader command in the course directory; fail loudly if it fails."""
    _venv_on_path()
    subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, check=True)


def write_source(paths, course=CLASSROOM):
    """Copy each notebook to source/<name>/<name>.ipynb, nbgrader's layout, widget cells tagged."""
    import nbformat

    for path in paths:
        folder = course / "source" / path.stem
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        nbformat.write(tag_widget_cells(nbformat.read(path, as_version=4)), folder / path.name)


def release(paths=None, course=CLASSROOM):
    """Generate the student release of each assignment with `nbgrader generate_assignment`."""
    paths = assignments() if not paths else [pathlib.Path(p).resolve() for p in paths]
    write_source(paths, course)
    nbgrader("generate_assignment", "*", "--force", course=course)  # every assignment in source/
    print(f"student release in {course / 'release'}: {', '.join(p.stem for p in paths)}")


def autograde(course=CLASSROOM):
    """Autograde every submission in submitted/<student>/<assignment>/ and write its feedback."""
    submitted = sorted({p.name for p in (course / "submitted").glob("*/*") if p.is_dir()})
    if not submitted:
        raise SystemExit(f"nothing to grade: put each notebook in {course}/submitted/<student>/<assignment>/")
    missing = [NOTEBOOKS / f"{a}.ipynb" for a in submitted if not (course / "release" / a).is_dir()]
    if missing:
        release(missing, course)  # nbgrader grades against the gradebook's copy of the source
    nbgrader("autograde", "*", "--force", course=course)
    nbgrader("generate_feedback", "*", "--force", course=course)
    for row in scores(course):
        pending = "  (open answers to grade by hand in the formgrader)" if row["needs_manual_grade"] else ""
        print("{student:12} {assignment:40} {score:5.1f} / {max_score:g}".format(**row) + pending)
    print(f"feedback in {course / 'feedback'}")


def scores(course=CLASSROOM):
    """Every graded submission's score, read from nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    _venv_on_path()
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return [{"student": s.student.id, "assignment": s.assignment.name,
                 "score": s.score, "max_score": s.max_score,
                 "needs_manual_grade": s.needs_manual_grade}
                for a in gb.assignments for s in a.submissions]


# -- self-study

def self_study(dest, source=NOTEBOOKS):
    """Write a learner's copy of every notebook to dest; keep any copy already there."""
    import nbformat

    dest = pathlib.Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    kept = []
    for path in sorted(source.glob("*.ipynb")):
        target = dest / path.name
        if target.exists():
            kept.append(path.name)
            continue
        nbformat.write(student_copy(nbformat.read(path, as_version=4)), target)
    if kept:
        print(f"kept your {len(kept)} notebooks in {dest}; delete one to get a fresh copy of it")


def main(argv):
    if not argv or argv[0] not in {"release", "autograde", "self-study"}:
        raise SystemExit(__doc__)
    if argv[0] == "release":
        release(argv[1:])
    elif argv[0] == "autograde":
        autograde()
    else:
        if len(argv) != 2:
            raise SystemExit(__doc__)
        self_study(argv[1])


if __name__ == "__main__":
    main(sys.argv[1:])
