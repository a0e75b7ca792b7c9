"""`python -m cachelab`: output shape and exit codes, run as a real command."""

import re
import subprocess
import sys

import pytest


def demo(*args):
    return subprocess.run([sys.executable, "-m", "cachelab", *args],
                          capture_output=True, text=True, timeout=60)


def test_default_run_prints_the_guides_lines_and_a_summary():
    run = demo("--db-delay", "0.002")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    for text in [" E-COMMERCE CACHING PERFORMANCE TEST", " Cache MISS: product:1",
                 " DB Query: Fetching product 1...", " Cache HIT: product:1", " Cache MISS: product:5",
                 " Final Cache Statistics:", " Performance Summary:", "Cache Hit Rate: 42.9%"]:
        assert text in out
    assert out.count("\nSpeedup: ") == 8 and "Average Speedup: " in out


def test_quiet_keeps_timings_and_drops_operation_lines():
    run = demo("--quiet", "--db-delay", "0", "--scenario", "all")
    assert run.returncode == 0, run.stderr
    assert " Cache HIT:" not in run.stdout and "DB Query" not in run.stdout
    assert run.stdout.count("Cache MISS time:") == 9
    assert "Scenario 3: Short TTL (5 seconds)" in run.stdout


def test_writes_scenario_reports_the_crash():
    run = demo("--scenario", "writes", "--db-delay", "0", "--quiet")
    assert run.returncode == 0, run.stderr
    # The background flusher may have saved some of the last three; the report says which.
    lost = int(re.search(r"Simulated crash: (\d) analytics events never", run.stdout).group(1))
    assert f"{28 - lost} of 28 accepted events stored in" in run.stdout and f"{lost} lost" in run.stdout


@pytest.mark.parametrize("args, message", [
    (["--db-delay", "-1"], "--db-delay: must be a number of seconds >= 0"),
    (["--db-delay", "fast"], "expected a number of seconds"),
    (["--db-delay", "1e10"], "--db-delay: must be at most 9.223e+09 seconds"),
    (["--ttl", "0"], "--ttl: must be a number of seconds > 0"),
    (["--scenario", "nope"], "invalid choice: 'nope'"),
])
def test_bad_arguments_exit_2_with_a_clear_message(args, message):
    run = demo(*args)
    assert run.returncode == 2
    assert message in run.stderr and "Traceback" not in run.stderr
