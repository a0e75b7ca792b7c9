"""One source, three copies: the course notebooks as assignments and as self-study.

    python tools/assignments.py release [NB ...]               # student release, by nbgrader  (make assignments)
    python tools/assignments.py autograde [NB] [--student ID]  # grade submissions, write feedback (make autograde)
    python tools/assignments.py feedback [NB] [--student ID]   # feedback again from the gradebook (make feedback)
    python tools/assignments.py self-study DIR                 # a learner's copy of the course  (make lab)

Every command but self-study takes --course DIR, nbgrader's course folder
(classroom/ by default, the folder holding nbgrader_config.py).  NB names a
notebook (01-why-cache, 01-why-cache.ipynb or notebooks/01-why-cache.ipynb).

The notebooks in notebooks/ are the instructor source.  Each exercise's
answer sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, each
open question's answer key in a markdown answer cell, and its checks in
graded cells (nbgrader metadata, schema 3) with ``### BEGIN HIDDEN TESTS``
regions.  Every other copy is generated from them by nbgrader's own
preprocessors, configured once in classroom/nbgrader_config.py:

* release/: ``nbgrader generate_assignment``, one assignment per notebook,
  with the links to notebooks outside the assignment's folder made plain text;
* self-study: the same clearing steps, all notebooks in one flat folder so
  the navigation links work, outputs kept except in exercise cells, and a
  learner's edited copy never overwritten.

Nothing is deleted or written before every argument has been checked: a
notebook argument must name an assignment in notebooks/, a student or an
assignment to grade must be a folder nbgrader made; anything else is a
one-line error and exit code 2.
"""

import argparse
import ast
import difflib
import os
import pathlib
import re
import shutil
import subprocess
import sys

from grading_log import GradingLog

__all__ = ["UsageError", "assignments", "autograde", "checked_course", "checked_selection", "course_notebook",
           "feedback", "is_assignment", "release", "report", "scores", "self_study", "student_copy",
           "tag_widget_cells", "unlink_missing", "main"]

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CLASSROOM = ROOT / "classroom"
CONFIG = "nbgrader_config.py"
SKIP_TAG = "skip-grading"                       # the grader skips cells with this tag
NAV_TAG = "navigation"                          # tools/notebooks.py's navigation cells
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
NUMBERED = re.compile(r"^\d\d-[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$")   # a course notebook's stem
PLAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")           # a student or assignment id, no path or glob
LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]+)\]\((?P<target>[^)\s]+)\)")


class UsageError(Exception):
    """A bad argument: said in one line, exit code 2, nothing touched."""


def _nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def _read(path):
    import nbformat

    return nbformat.read(path, as_version=4)


def is_assignment(nb):
    """Whether a notebook has graded cells, and so is an assignment."""
    return any(_nbgrader_meta(c).get("grade") for c in nb["cells"])


def assignments(folder=None):
    """The course notebooks that are assignments, in order (new notebooks join by being there)."""
    folder = NOTEBOOKS if folder is None else folder
    return [p for p in sorted(folder.glob("[0-9][0-9]-*.ipynb"))
            if NUMBERED.match(p.stem) and is_assignment(_read(p))]


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


def unlink_missing(nb, present):
    """Drop the navigation cells and turn each relative link to a file not in `present` into its text.

    An assignment folder holds one notebook; the links to the contents and to
    the neighbouring notebooks would lead a student nowhere.
    """
    def keep_or_unlink(match):
        target = match["target"]
        if re.match(r"^[a-z][a-z0-9+.-]*:|^#", target):   # a web address or an anchor in this notebook
            return match[0]
        return match[0] if target.split("#")[0] in present else match["text"]

    nb.cells = [c for c in nb.cells if NAV_TAG not in c.get("metadata", {}).get("tags", [])]
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = LINK.sub(keep_or_unlink, cell.source)
    return nb


def config(course=None):
    """The course's nbgrader configuration (classroom/nbgrader_config.py)."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader(CONFIG, path=str(CLASSROOM if course is None else course)).load_config()


def student_copy(nb, course=None):
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


# -- checking arguments before anything is touched

def checked_course(course):
    """The course folder, which must hold nbgrader_config.py: the one folder this tool writes into."""
    course = pathlib.Path(CLASSROOM if course is None else course).resolve()
    if not (course / CONFIG).is_file():
        raise UsageError(f"{course} is not a course folder: it has no {CONFIG}")
    return course


def course_notebook(arg, source=None, stems=None):
    """The instructor notebook an argument names, which must be an assignment (one of `stems`) in notebooks/."""
    source = NOTEBOOKS if source is None else source
    stems = [p.stem for p in assignments(source)] if stems is None else stems
    given = pathlib.Path(str(arg))
    stem = given.name[:-len(".ipynb")] if given.name.endswith(".ipynb") else given.name
    if not NUMBERED.match(stem):
        raise UsageError(f"{str(arg)!r} is not a course notebook: give one of {', '.join(stems) or 'none'}")
    path = source / f"{stem}.ipynb"
    if not path.is_file():
        hint = difflib.get_close_matches(stem, stems, n=1)
        raise UsageError(f"no notebook {stem}.ipynb in {source}" + (f"; did you mean {hint[0]}?" if hint else ""))
    if str(given) != given.name and given.resolve() != path.resolve():
        raise UsageError(f"{arg} is not in {source}: release the instructor source, not a copy")
    if stem not in stems:
        raise UsageError(f"{stem} has no graded cells, so it is not an assignment")
    return path


def _plain_id(arg, what, path_ok=False):
    text = str(arg)
    if path_ok and ".." not in pathlib.Path(text).parts:   # a notebook given by its file
        text = pathlib.Path(text).name.removesuffix(".ipynb")
    if not PLAIN_ID.match(text) or set(text) == {"."}:
        raise UsageError(f"{str(arg)!r} is not {what}")
    return text


def checked_selection(course, notebook, student, folder):
    """The assignment and student to work on, each None for all; each must be a folder nbgrader has made."""
    root = course / folder
    made = sorted(p for p in root.glob("*/*") if p.is_dir())
    if notebook is not None:
        notebook = _plain_id(notebook, "an assignment name", path_ok=True)
        if notebook not in {p.name for p in made}:
            known = sorted({p.name for p in made})
            raise UsageError(f"no assignment {notebook} in {root}" + (f": there are {', '.join(known)}" if known else ""))
    if student is not None:
        student = _plain_id(student, "a student id")
        if not (root / student).is_dir():
            raise UsageError(f"no student {student} in {root}")
    chosen = [(p.parent.name, p.name) for p in made
              if notebook in (None, p.name) and student in (None, p.parent.name)]
    if not chosen:
        raise UsageError(f"nothing in {root}: " + ("put each notebook in <student>/<assignment>/ there"
                                                   if folder == "submitted" else "autograde first"))
    return notebook, student, chosen


def _inside(path, folder):
    """Refuse to delete or write a path that is not strictly inside the folder this tool owns."""
    path, folder = pathlib.Path(path).resolve(), pathlib.Path(folder).resolve()
    if folder not in path.parents:
        raise UsageError(f"refusing to touch {path}: it is not inside {folder}")
    return path


# -- the classroom: nbgrader's course directory

def _venv_on_path():
    """nbgrader's gradebook runs `alembic` from PATH: put this environment's scripts first."""
    scripts = str(pathlib.Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != scripts:
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def nbgrader(*args, course=None, say=print):
    """Run one nbgrader command in the course folder; its whole log goes to .nbgrader.log, the news to `say`.

    Returns the GradingLog, which holds the submissions that failed.
    """
    course = checked_course(course)
    _venv_on_path()
    log = GradingLog(say)
    with open(course / ".nbgrader.log", "a", encoding="utf-8") as raw, subprocess.Popen(
            [sys.executable, "-m", "nbgrader", *args], cwd=course, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as run:
        raw.write(f"$ nbgrader {' '.join(args)}\n")
        for line in run.stdout:
            raw.write(line)
            log.feed(line)
    log.finish()
    if log.broken_config:
        raise SystemExit(f"nbgrader could not load {course / CONFIG}; nothing was graded with it")
    if run.returncode and not log.failures:
        raise SystemExit(f"nbgrader {args[0]} failed; its log is in {course / '.nbgrader.log'}")
    return log


def write_source(paths, course=None):
    """Copy each notebook to source/<name>/<name>.ipynb, nbgrader's layout: widget cells tagged, links kept inside."""
    import nbformat

    course = checked_course(course)
    for path in paths:
        folder = _inside(course / "source" / path.stem, course / "source")
        notebook = unlink_missing(tag_widget_cells(_read(path)), present={path.name})
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / path.name)


def release(paths=None, course=None, say=print):
    """Generate the student release of each assignment (all of them by default) with nbgrader."""
    course = checked_course(course)
    every = assignments()
    stems = [p.stem for p in every]
    paths = [course_notebook(p, stems=stems) for p in paths] if paths else every  # all checked before any write
    write_source(paths, course)
    nbgrader("generate_assignment", "*", "--force", course=course, say=say)  # every assignment in source/
    say(f"student release in {course / 'release'}: {', '.join(p.stem for p in paths)}")


def _answers(path):
    """{grade_id: source} of a notebook's answer cells, or None when it cannot be read."""
    try:
        nb = _read(path)
    except Exception:  # a corrupt notebook has no answers to compare
        return None
    return {_nbgrader_meta(c)["grade_id"]: c.source for c in nb.cells if _nbgrader_meta(c).get("solution")}


def unchanged_since_grading(course, chosen):
    """The submissions whose every answer is as it was when last autograded: their hand grades stand."""
    same = []
    for student, assignment in chosen:
        graded = sorted((course / "autograded" / student / assignment).glob("*.ipynb"))
        if graded and all(_answers(p) is not None and _answers(p) == _answers(
                course / "submitted" / student / assignment / p.name) for p in graded):
            same.append((student, assignment))
    return same


def _gradebook(course):
    from nbgrader.api import Gradebook

    _venv_on_path()
    return Gradebook(f"sqlite:///{course / 'gradebook.db'}")


def hand_grades(course, submissions):
    """The grades a teacher has given by hand and settled (not waiting for review) in these submissions."""
    from nbgrader.api import MissingEntry

    if not (course / "gradebook.db").is_file():
        return []
    settled = []
    with _gradebook(course) as gb:
        for student, assignment in submissions:
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            settled += [(g.name, g.notebook.name, assignment, student) for nb in submission.notebooks
                        for g in nb.grades if g.manual_score is not None and not g.needs_manual_grade]
    return settled


def keep_hand_grades(course, settled):
    """nbgrader flags every hand grade for review again on a regrade; settle again those whose answer is the same."""
    with _gradebook(course) as gb:
        for key in settled:
            grade = gb.find_grade(*key)
            if grade.manual_score is not None:
                grade.needs_manual_grade = False
        gb.db.commit()


def autograde(notebook=None, student=None, course=None, say=print):
    """Grade the submissions (all, one assignment's, one student's or one), write their feedback, print scores.

    A submission nbgrader cannot grade is reported by student and assignment;
    the others are graded all the same.  Returns {(student, assignment): reason}.
    """
    course = checked_course(course)
    notebook, student, chosen = checked_selection(course, notebook, student, "submitted")
    unreleased = sorted({a for _, a in chosen if not (course / "release" / a).is_dir()})
    failures = {}
    if unreleased:  # nbgrader grades against the gradebook's copy of the source
        known = {p.stem: p for p in assignments()}
        for a in unreleased:
            if a not in known:
                failures.update({(s, x): "not an assignment of this course" for s, x in chosen if x == a})
        if set(unreleased) & known.keys():
            release([known[a] for a in unreleased if a in known], course, say)
    if len(failures) == len(chosen):
        report(course, [], failures, say)
        return failures
    settled = hand_grades(course, unchanged_since_grading(course, chosen))
    only = ["--student", student] if student else []
    log = nbgrader("autograde", notebook or "*", *only, "--force", course=course, say=say)
    keep_hand_grades(course, settled)
    failures = {**log.failures, **failures}
    failures.update({(s, a): "nbgrader wrote no graded copy" for s, a in chosen
                     if (s, a) not in failures and not any((course / "autograded" / s / a).glob("*.ipynb"))})
    graded = [pair for pair in chosen if pair not in failures]
    if graded:
        nbgrader("generate_feedback", notebook or "*", *only, "--force", course=course, say=say)
    report(course, graded, failures, say)
    return failures


def feedback(notebook=None, student=None, course=None, say=print):
    """Write the feedback again from the gradebook, hand grades included, without running anything."""
    course = checked_course(course)
    notebook, student, chosen = checked_selection(course, notebook, student, "autograded")
    only = ["--student", student] if student else []
    log = nbgrader("generate_feedback", notebook or "*", *only, "--force", course=course, say=say)
    report(course, chosen, log.failures, say)
    return log.failures


def scores(course=None):
    """Every graded submission's points from nbgrader's gradebook, automatic checks and hand-graded answers apart."""
    course = checked_course(course)
    rows = []
    with _gradebook(course) as gb:
        for assignment in gb.assignments:
            for submission in assignment.submissions:
                grades = [g for nb in submission.notebooks for g in nb.grades]
                checks = [g for g in grades if g.cell.cell_type == "code"]
                answers = [g for g in grades if g.cell.cell_type != "code"]
                rows.append({
                    "student": submission.student.id, "assignment": assignment.name,
                    "score": submission.score, "max_score": submission.max_score,
                    "checks": sum(g.score or 0 for g in checks), "checks_max": sum(g.max_score for g in checks),
                    "answers": sum(g.score or 0 for g in answers), "answers_max": sum(g.max_score for g in answers),
                    "to_grade": sum(bool(g.needs_manual_grade) for g in grades),
                    "needs_manual_grade": submission.needs_manual_grade})
    return rows


def report(course, submissions, failures, say=print):
    """The score table for these submissions, then each one that could not be graded, in one line."""
    chosen = set(submissions)
    rows = [r for r in scores(course) if (r["student"], r["assignment"]) in chosen]
    if rows:
        say(f"{'student':12} {'assignment':40} {'checks':>9}   open answers (by hand)")
    for row in sorted(rows, key=lambda r: (r["assignment"], r["student"])):
        pending = f"   {row['to_grade']} to grade in the formgrader" if row["to_grade"] else ""
        say("{student:12} {assignment:40} {checks:4g} / {checks_max:<3g}   {answers:g} / {answers_max:g}".format(**row)
            + pending)
    for (student, assignment), reason in sorted(failures.items()):
        say(f"NOT GRADED {student} / {assignment}: {reason}")
    say(f"feedback in {course / 'feedback'}")


# -- self-study

def self_study(dest, source=None, say=print):
    """Write a learner's copy of every notebook to dest; keep any copy already there."""
    import nbformat

    source = NOTEBOOKS if source is None else source
    dest = pathlib.Path(dest)
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} is a file, not a folder for the course")
    dest.mkdir(parents=True, exist_ok=True)
    kept = []
    for path in sorted(source.glob("*.ipynb")):
        target = dest / path.name
        if target.exists():
            kept.append(path.name)
            continue
        nbformat.write(student_copy(_read(path)), target)
    if kept:
        say(f"kept your {len(kept)} notebooks in {dest}; delete one to get a fresh copy of it")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def parser():
    top = _Parser(prog="assignments.py", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True, parser_class=_Parser)
    release_ = commands.add_parser("release")
    release_.add_argument("notebooks", nargs="*")
    for name in ("autograde", "feedback"):
        grade = commands.add_parser(name)
        grade.add_argument("notebook", nargs="?")
        grade.add_argument("--student")
    for command in commands.choices.values():
        command.add_argument("--course", help="the course folder (classroom/)")
    study = commands.add_parser("self-study")
    study.add_argument("dest")
    return top


def main(argv):
    try:
        args = parser().parse_args(argv)
        if args.command == "release":
            release(args.notebooks, args.course)
        elif args.command == "autograde":
            if autograde(args.notebook, args.student, args.course):
                return 1
        elif args.command == "feedback":
            if feedback(args.notebook, args.student, args.course):
                return 1
        else:
            self_study(args.dest)
    except UsageError as error:
        print(f"assignments.py: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
