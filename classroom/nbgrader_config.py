"""nbgrader's configuration for the cachelab course (nbgrader 0.9).

The instructor source is ../notebooks/: `make assignments` copies each
notebook with graded cells to source/<notebook>/ and runs
`nbgrader generate_assignment` on it; `make autograde` grades whatever sits
in submitted/<student>/<notebook>/.  Everything nbgrader writes here
(source/, release/, submitted/, autograded/, feedback/, gradebook.db) is
generated and ignored by git.
"""

import os

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

c = get_config()  # noqa: F821 (nbgrader provides it)

c.CourseDirectory.course_id = "cachelab"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

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



class PlainWordsErrors(Preprocessor):
    """Cut each error down to its last line, the check's message: no code from around it."""

    enabled = True

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


# Feedback shows each check's score and message, never the hidden tests' code.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, PlainWordsErrors, CSSHTMLHeaderPreprocessor]
