"""nbgrader's configuration for the cachelab course (nbgrader 0.9).

The instructor source is ../notebooks/: `make assignments` copies each
notebook with graded cells to source/<notebook>/ and runs
`nbgrader generate_assignment` on it; `make autograde` grades whatever sits
in submitted/<student>/<notebook>/, and `make feedback` rewrites the
feedback from the gradebook after hand-grading.  Everything nbgrader writes
here (source/, release/, submitted/, autograded/, feedback/, gradebook.db)
is generated and ignored by git.
"""

import os
import warnings

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor
from nbgrader.api import MissingEntry
from nbgrader.converters import Autograde
from nbgrader.preprocessors import ClearHiddenTests, Execute, GetGrades, OverwriteCells
from nbgrader.utils import is_locked
from sqlalchemy.exc import SAWarning
from traitlets import default

c = get_config()  # noqa: F821 (nbgrader provides it)

c.CourseDirectory.course_id = "cachelab"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

# nbgrader 0.9's gradebook trips SQLAlchemy's autoflush warning three times
# per new submission ("Object of type <SubmittedAssignment> not in session");
# the rows are written all the same, so the warning only hides real news.
warnings.filterwarnings("ignore", message=r"Object of type <\w+> not in session", category=SAWarning)

# What an unanswered exercise says when it runs: plain words, no traceback puzzle.
c.ClearSolutions.code_stub = {
    "python": '# YOUR CODE HERE\nraise NotImplementedError("Not answered yet: replace this line with your code.")'}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Widget cells never stall grading: tools/assignments.py tags every cell that
# only displays a widget (it defines nothing later cells need), and the grader
# skips those cells (nbclient can hang after an `interact`).  Any other cell
# gets at most 60 s, then the kernel is interrupted and grading goes on.
c.Execute.skip_cells_with_tag = "skip-grading"
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True


class PlainTimeouts(Execute):
    """Execute, but a cell that runs out of time says so, and how long it had, in place of a bare interrupt."""

    @default("error_on_timeout")
    def _out_of_time(self):
        words = (f"This cell ran out of time: it had {self.timeout:g} seconds and was stopped. "
                 "Look for a loop that never ends, or for work that grows much faster than it needs to.")
        return {"ename": "OutOfTime", "evalue": words, "traceback": [f"OutOfTime: {words}"]}

    def on_cell_executed(self, **kwargs):
        super().on_cell_executed(**kwargs)
        if kwargs["execute_reply"]["content"].get("ename") == "OutOfTime":  # the interrupt's own error says nothing
            cell = kwargs["cell"]
            cell.outputs = [out for out in cell.outputs
                            if not (out.output_type == "error" and out.ename == "KeyboardInterrupt")]


class RestoreHiddenTests(OverwriteCells):
    """A check cell comes back as it was released, without its hidden tests: put them back without an alarm.

    nbgrader compares each locked cell with the source, hidden tests included,
    so every check with hidden tests would read "checksum has changed" for
    every student.  Only a check cell the student really edited is reported.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None and is_locked(cell):
            try:
                source = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
            except MissingEntry:
                source = None
            if source is not None and "HIDDEN TESTS" in source.source:
                released = type(cell)(cell_type=source.cell_type, source=source.source, metadata={})
                ClearHiddenTests(config=self.config)._remove_hidden_test_region(released)
                if cell.source == released.source:
                    cell.source = source.source
        return super().preprocess_cell(cell, resources, cell_index)


def _swap(steps, old, new):
    return [new if step is old else step for step in steps]


c.Autograde.sanitize_preprocessors = _swap(
    Autograde.class_traits()["sanitize_preprocessors"].default(), OverwriteCells, RestoreHiddenTests)
c.Autograde.autograde_preprocessors = _swap(
    Autograde.class_traits()["autograde_preprocessors"].default(), Execute, PlainTimeouts)


class PlainWordsErrors(Preprocessor):
    """Cut each error down to its last line, the check's message: no code from around it."""

    enabled = True

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


class PendingHandGrades(Preprocessor):
    """Until the open answers are graded, say so under the score: a perfect code answer is not half marks."""

    enabled = True

    def preprocess(self, nb, resources):
        from nbformat.v4 import new_markdown_cell
        from nbgrader.api import Gradebook

        ids = resources["nbgrader"]
        with Gradebook(ids["db_url"]) as gb:
            grades = gb.find_submission_notebook(ids["notebook"], ids["assignment"], ids["student"]).grades
            waiting = sum(bool(g.needs_manual_grade) for g in grades)
            checks = [g for g in grades if g.cell.cell_type == "code"]
            got, out_of = sum(g.score or 0 for g in checks), sum(g.max_score for g in checks)
        if waiting:
            nb.cells.insert(0, new_markdown_cell(
                f"**Not final yet:** {waiting} of your answers wait for your teacher to grade them, and count 0 "
                f"in the score above until then. Your code scored {got:g} of {out_of:g} points in the automatic checks."))
        return nb, resources


# Feedback shows each check's score and message, never the hidden tests' code.
c.GenerateFeedback.preprocessors = [GetGrades, PendingHandGrades, ClearHiddenTests, PlainWordsErrors,
                                    CSSHTMLHeaderPreprocessor]
