"""The classroom tool against hostile arguments: a one-line error, exit code 2, and not one byte changed.

The commands run in a temporary copy of the course's layout (the tool,
two notebooks, a classroom/ with a gradebook, submissions and feedback),
and every file under it is hashed before and after each command.
"""

import hashlib
import importlib.util
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NB = "01-why-cache"

HOSTILE = [
    ["release", ".."], ["release", "..."], ["release", "...ipynb"], ["release", "..ipynb"], ["release", "."],
    ["release", "notebooks"], ["release", "notebooks/02-ttl-expiration.ipynb"],       # a missing file
    ["release", "notebooks/01-why-cach.ipynb"], ["release", "01-why-cach"],            # typos
    ["release", "README.md"], ["release", "classroom/nbgrader_config.py"],             # existing non-notebooks
    ["release", "notebooks/00-index.ipynb"],                                           # a notebook, not an assignment
    ["release", f"classroom/source/{NB}/{NB}.ipynb"], ["release", f"../{NB}.ipynb"],   # a copy, not the source
    ["release", "stray.ipynb"], ["release", NB, ".."],                                 # one bad among good ones
    ["autograde", ".."], ["autograde", "...ipynb"], ["autograde", "*"], ["autograde", "02-nope"],
    ["autograde", "--student", ".."], ["autograde", "--student", "../ada"], ["autograde", "--student", "*"],
    ["autograde", "--student", "nobody"], ["autograde", NB, "--student", "nobody"],
    ["autograde", "--course", "notebooks"], ["autograde", "--course", "/nonexistent/classroom"],
    ["feedback", ".."], ["feedback", "--student", ".."], ["feedback", "--student", "*"], ["feedback", "02-nope"],
    ["self-study", "README.md"],
    [], ["bogus"], ["release", "--force"],
]


def tree_hashes(top):
    """{relative path: sha256} of every file under top (the tool's bytecode cache aside)."""
    return {str(p.relative_to(top)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(top.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    """A copy of the course: tools/, two notebooks, and a classroom that has already graded a class."""
    top = tmp_path_factory.mktemp("course")
    (top / "tools").mkdir()
    for name in ("assignments.py", "grading_log.py"):
        shutil.copy(ROOT / "tools" / name, top / "tools")
    (top / "notebooks").mkdir()
    for name in ("00-index.ipynb", f"{NB}.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, top / "notebooks")
    course = top / "classroom"
    course.mkdir()
    shutil.copy(ROOT / "classroom" / "nbgrader_config.py", course)
    (course / "gradebook.db").write_bytes(b"SQLite format 3\x00 the class's grades")
    for folder in (f"source/{NB}", f"release/{NB}", f"submitted/ada/{NB}", f"autograded/ada/{NB}"):
        (course / folder).mkdir(parents=True)
        shutil.copy(ROOT / "notebooks" / f"{NB}.ipynb", course / folder)
    (course / "feedback" / "ada" / NB).mkdir(parents=True)
    (course / "feedback" / "ada" / NB / f"{NB}.html").write_text("<h1>ada's feedback</h1>")
    (top / "README.md").write_text("# not a notebook\n")
    (top / "stray.ipynb").write_text((ROOT / "notebooks" / f"{NB}.ipynb").read_text(encoding="utf-8"))
    return top


@pytest.fixture(scope="module")
def tool(layout):
    """The copied tool, imported: its ROOT is the copy, so it can only see the copy."""
    sys.path.insert(0, str(layout / "tools"))
    spec = importlib.util.spec_from_file_location("assignments_in_copy", layout / "tools" / "assignments.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.path.remove(str(layout / "tools"))
    assert module.ROOT == layout
    return module


@pytest.mark.parametrize("argv", HOSTILE, ids=lambda argv: " ".join(argv) or "no arguments")
def test_a_bad_argument_is_one_line_and_changes_nothing(argv, layout, tool, capsys, monkeypatch):
    monkeypatch.chdir(layout)
    before = tree_hashes(layout)
    assert tool.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and err.startswith("assignments.py: "), err
    assert "Traceback" not in err
    assert tree_hashes(layout) == before


def test_the_command_line_exits_2_with_one_line(layout):
    """The real command, as make runs it: exit code 2, one line on stderr, nothing created or changed."""
    before = tree_hashes(layout)
    run = subprocess.run([sys.executable, "tools/assignments.py", "release", "...ipynb"],
                         cwd=layout, capture_output=True, text=True)
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr.count("\n") == 1 and "not a course notebook" in run.stderr
    assert tree_hashes(layout) == before


def test_the_tool_refuses_to_touch_a_path_outside_its_folder(layout, tool):
    """The last guard before a delete: a path that climbs out of source/ is refused."""
    with pytest.raises(tool.UsageError):
        tool._inside(layout / "classroom" / "source" / "..", layout / "classroom" / "source")
    with pytest.raises(tool.UsageError):
        tool._inside(layout / "classroom" / "source", layout / "classroom" / "source")
    assert tool._inside(layout / "classroom" / "source" / NB, layout / "classroom" / "source").name == NB


def test_a_good_argument_is_accepted_in_every_spelling(layout, tool, monkeypatch):
    """The checks refuse the hostile names, not the ordinary ones."""
    monkeypatch.chdir(layout)
    source = layout / "notebooks" / f"{NB}.ipynb"
    for spelling in (NB, f"{NB}.ipynb", f"notebooks/{NB}.ipynb", str(source)):
        assert tool.course_notebook(spelling) == source
    course = tool.checked_course("classroom")
    assert tool.checked_selection(course, f"{NB}.ipynb", "ada", "submitted") == (NB, "ada", [("ada", NB)])


NBGRADER_OUTPUT = """\
[AutogradeApp | INFO] Sanitizing /c/submitted/ada/01-why-cache/01-why-cache.ipynb
[AutogradeApp | WARNING] Attribute 'checksum' for cell correct_hit_ratio has changed! (should be: c5, got: eb)
[IPKernelApp] WARNING | Kernel is running over TCP without encryption. All communication is sent in plain text.
[AutogradeApp | ERROR] Timeout waiting for execute reply (60s).
[AutogradeApp | ERROR] Interrupting kernel
[AutogradeApp | WARNING] Removing existing assignment: /c/autograded/bob/01-why-cache
[AutogradeApp | INFO] Sanitizing /c/submitted/zed/01-why-cache/01-why-cache.ipynb
[AutogradeApp | ERROR] There was an error processing assignment: /c/submitted/zed/01-why-cache
[AutogradeApp | ERROR] Traceback (most recent call last):
      File "nbformat/reader.py", line 25, in parse_json
    nbformat.reader.NotJSONError: Notebook does not appear to be JSON: '{"cells": ['
    
[AutogradeApp | WARNING] Removing failed assignment: /c/autograded/zed/01-why-cache
[AutogradeApp | WARNING] Something nobody has seen before
[AutogradeApp | ERROR] There was an error processing assignment '01-why-cache' for student 'zed'
[AutogradeApp | ERROR] Please see the the above traceback for details on the specific errors on the above failures.
"""


def test_the_grading_log_keeps_news_and_drops_routine():
    """Each line of a real grading run, sorted: progress, plain words, a failure by name, unknown news kept."""
    sys.path.insert(0, str(ROOT / "tools"))
    from grading_log import GradingLog

    said = []
    log = GradingLog(said.append)
    for line in NBGRADER_OUTPUT.splitlines(keepends=True):
        log.feed(line)
    log.finish()
    assert said == [
        "grading ada / 01-why-cache",
        "ada / 01-why-cache: the locked check cell correct_hit_ratio was edited; "
        "nbgrader put the original back before grading",
        "ada / 01-why-cache: a cell ran out of time (60 s) and was stopped; "
        "grading went on, and the student's feedback says so",
        "grading zed / 01-why-cache",
        "zed / 01-why-cache: Something nobody has seen before",
    ]
    assert log.failures == {("zed", "01-why-cache"): "NotJSONError: Notebook does not appear to be JSON: '{\"cells\": ['"}


RACE = """ERROR:tornado.general:Uncaught exception in ZMQStream callback
Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/zmq/eventloop/zmqstream.py", line 585, in _log_error
  File "zmq/backend/cython/_zmq.py", line 190, in zmq.backend.cython._zmq._check_rc
zmq.error.ZMQError: Socket operation on non-socket
"""


@pytest.mark.parametrize("ending, shown", [
    ("", 0),  # the kernel's shutdown race, as it always ends: dropped
    ("ValueError: something else\n", 5),  # a traceback that ends otherwise is news, shown whole
])
def test_the_kernels_shutdown_race_is_dropped_and_nothing_else(ending, shown):
    sys.path.insert(0, str(ROOT / "tools"))
    from grading_log import GradingLog

    said = []
    log = GradingLog(said.append)
    text = RACE if not ending else RACE.replace("zmq.error.ZMQError: Socket operation on non-socket\n", ending)
    for line in ("[AutogradeApp | INFO] Sanitizing /c/submitted/bob/01-why-cache/01-why-cache.ipynb\n"
                 + text + "[AutogradeApp | INFO] Writing 1 bytes\n").splitlines(keepends=True):
        log.feed(line)
    log.finish()
    assert said[0] == "grading bob / 01-why-cache"
    assert len(said) - 1 == shown


def test_hand_grades_stand_only_while_the_answers_are_the_same(layout, tool):
    """A regrade settles hand grades again when the submission's answers match the graded copy, not otherwise."""
    import nbformat

    course = layout / "classroom"
    assert tool.unchanged_since_grading(course, [("ada", NB)]) == [("ada", NB)]
    changed = course / "submitted" / "eve" / NB
    changed.mkdir(parents=True)
    (course / "autograded" / "eve" / NB).mkdir(parents=True)
    nb = nbformat.read(layout / "notebooks" / f"{NB}.ipynb", as_version=4)
    nbformat.write(nb, course / "autograded" / "eve" / NB / f"{NB}.ipynb")
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    answer.source += "\n# a second thought"
    nbformat.write(nb, changed / f"{NB}.ipynb")
    try:
        assert tool.unchanged_since_grading(course, [("ada", NB), ("eve", NB)]) == [("ada", NB)]
    finally:
        shutil.rmtree(course / "submitted" / "eve")
        shutil.rmtree(course / "autograded" / "eve")
