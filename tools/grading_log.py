"""nbgrader's log, cut down to what a teacher has to act on.

nbgrader narrates every file it reads and writes.  A grading run's log is
read here line by line: progress becomes one line per submission, a failed
submission is remembered by student and assignment with the last line of its
traceback, a timeout and an edited check cell are said in plain words, and
the lines every run prints are dropped (EXPECTED says why each is harmless).
Anything else is shown as it came, so news is never hidden.
"""

import re

__all__ = ["EXPECTED", "KERNEL_SHUTDOWN_RACE", "GradingLog"]

LINE = re.compile(r"^\[(?P<app>\w+) \| (?P<level>[A-Z]+)\] (?P<message>.*)$")
SUBMISSION = re.compile(r"/(?:submitted|autograded|feedback)/(?P<student>[^/\s]+)/(?P<assignment>[^/\s']+)")
TIMEOUT = re.compile(r"Timeout waiting for execute reply \((?P<seconds>[\d.]+)s\)")
FAILED = re.compile(r"There was an error processing assignment '(?P<assignment>[^']*)' for student '(?P<student>[^']*)'")
EDITED = re.compile(r"Attribute '(?P<attr>\w+)' for cell (?P<cell>\S+) has changed")

# Printed on every run, and nothing to act on.
EXPECTED = {
    # The grading kernel runs on this machine and talks to nbgrader over loopback.
    "Kernel is running over TCP without encryption": "the kernel's loopback connection",
    # --force replaces an earlier grading or feedback of the same submission.
    "Removing existing assignment": "a regrade replacing the old copy",
    "Removing existing notebook": "a regrade replacing the old copy",
    "Removing existing feedback": "a regrade replacing the old copy",
    # Said again, with the reason, in the failure report at the end.
    "Removing failed assignment": "reported as a failure",
    "Please see the the above traceback": "reported as a failure",
    "Please see the above traceback": "reported as a failure",
    "Please see the error log": "reported as a failure",
    # nbgrader 0.9's feedback gives every preprocessor a display priority; ClearHiddenTests has no use for one.
    "Config option `display_data_priority` not recognized by `ClearHiddenTests`": "nbgrader's own config",
    # nbconvert's accessibility check: the lesson's plots, drawn by the student's run, carry no alt text.
    "Alternative text is missing on": "plots in the feedback page",
    # The timeout is reported in one line of its own.
    "Interrupting kernel": "part of a timeout",
}


# ipykernel sometimes publishes its status after an interrupt or a shutdown has closed the socket;
# tornado then logs the ZMQError with a traceback.  The grading already has its result.
KERNEL_SHUTDOWN_RACE = ("Uncaught exception in ZMQStream callback", "zmq.error.ZMQError")


class GradingLog:
    """Read nbgrader's output a line at a time; `say` what needs attention, keep failures by submission.

    State: `where` is the (student, assignment) nbgrader is working on, read
    from the paths it logs; `failures` maps (student, assignment) to a reason;
    `broken_config` is set when nbgrader could not load nbgrader_config.py
    (it carries on without it, which would grade with the wrong settings);
    `_traceback` collects a traceback's lines until the next log line.
    """

    def __init__(self, say=print):
        self.say = say
        self.where = None
        self.failures = {}
        self.broken_config = False
        self._announced = set()
        self._traceback = None
        self._race = None  # the lines of a kernel's ZMQStream traceback, until its last

    def __repr__(self):
        return f"GradingLog(where={self.where}, failures={len(self.failures)})"

    def who(self):
        return " / ".join(self.where) if self.where else "nbgrader"

    def feed(self, line):
        line = line.rstrip("\n")
        match = LINE.match(line)
        if self._race is not None:
            if match is None and not line.startswith(KERNEL_SHUTDOWN_RACE[1]):
                self._race.append(line)
                return
            race, self._race = self._race, None
            if match is None:
                return  # it ended as that race always ends: drop it
            for held in race:  # it did not: show it as it came
                self._plain(held)
        if match is None and KERNEL_SHUTDOWN_RACE[0] in line:
            self._race = [line]
            return
        if match is None:
            self._plain(line)
            return
        self._end_traceback()
        level, message = match["level"], match["message"]
        self._follow(message)
        if self._expected(message):
            return
        if message.startswith("Exception while loading config file"):
            self.broken_config = True
            self._traceback = []
        elif message.startswith("There was an error processing assignment:") or message.startswith("Traceback"):
            self._traceback = []
        elif found := FAILED.search(message):
            self.failures.setdefault((found["student"], found["assignment"]), "nbgrader could not process it")
        elif found := TIMEOUT.search(message):
            self.say(f"{self.who()}: a cell ran out of time ({found['seconds']} s) and was stopped; "
                     "grading went on, and the student's feedback says so")
        elif (found := EDITED.search(message)) and found["attr"] == "checksum":
            self.say(f"{self.who()}: the locked check cell {found['cell']} was edited; "
                     "nbgrader put the original back before grading")
        elif level not in {"INFO", "DEBUG"}:
            self.say(f"{self.who()}: {message}")

    def finish(self):
        """Close a traceback still open at the end of the output."""
        race, self._race = self._race, None
        for held in race or ():
            self._plain(held)
        self._end_traceback()

    def _plain(self, line):
        """A line that is not one of nbgrader's: part of a traceback, routine, or news."""
        if self._traceback is not None:
            self._traceback.append(line)
        elif line.strip() and not self._expected(line) and not line.startswith("    "):
            self.say(f"{self.who()}: {line.strip()}")

    def _expected(self, text):
        return any(marker in text for marker in EXPECTED)

    def _follow(self, message):
        """Keep `where` on the submission nbgrader is working on; announce each one once."""
        found = SUBMISSION.search(message)
        if found is None:
            return
        self.where = (found["student"], found["assignment"])
        if message.startswith("Sanitizing") and self.where not in self._announced:
            self._announced.add(self.where)
            self.say(f"grading {self.who()}")

    def _end_traceback(self):
        if self._traceback is None:
            return
        lines = [line.strip() for line in self._traceback if line.strip()]
        self._traceback = None
        reason = lines[-1] if lines else "nbgrader failed without saying why"
        reason = re.sub(r"^(?:\w+\.)+(?=\w+(?:Error|Exception)\b)", "", reason)  # nbformat.reader.NotJSONError
        if self.broken_config:
            self.say(f"nbgrader could not load nbgrader_config.py: {reason}")
        elif self.where:
            self.failures[self.where] = reason
