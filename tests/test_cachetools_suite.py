"""cachetools 8.0.2's own tests, run against cachelab's classes.

The README promises drop-in replacements for cachetools.  This test holds
it to that: it downloads the cachetools 8.0.2 sdist once (into a cache
directory, `CACHELAB_CACHE_DIR` or the temp dir), takes the `tests/`
folder, and runs its shared `CacheTestMixin` and the per-class modules
with `from cachetools import X` resolving to cachelab.  It runs in a child
pytest, so the real cachetools that other tests compare against stays
untouched.  It skips, saying why, only when the sdist cannot be downloaded.
"""

import os
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET

import pytest

VERSION = "8.0.2"
SDIST = f"cachetools-{VERSION}.tar.gz"
# cachetools' module -> the classes it imports from cachetools; Cache is the mixin on the base class.
MODULES = {
    "test_cache.py": "Cache",
    "test_lru.py": "LRUCache",
    "test_lfu.py": "LFUCache",
    "test_fifo.py": "FIFOCache",
    "test_rr.py": "RRCache",
    "test_ttl.py": "TTLCache",
}

SHIM = '''"""cachelab standing in for cachetools, for cachetools' own tests."""
from cachelab.caches import Cache, FIFOCache, LFUCache, LRUCache, RRCache, TTLCache

CACHELAB_SHIM = True
'''

# Fails the child run if `import cachetools` found the real package instead of the shim.
CONFTEST = '''import cachetools


def pytest_configure(config):
    assert getattr(cachetools, "CACHELAB_SHIM", False), cachetools.__file__
'''


def _cache_dir():
    root = os.environ.get("CACHELAB_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "cachelab-cache")
    path = pathlib.Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sdist():
    """Return the path of the cachetools sdist, downloading it the first time."""
    target = _cache_dir() / SDIST
    if target.exists():
        return target
    with tempfile.TemporaryDirectory(dir=target.parent) as download:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
             "--disable-pip-version-check", "--quiet", f"cachetools=={VERSION}", "-d", download],
            capture_output=True, text=True, timeout=240)
        got = pathlib.Path(download) / SDIST
        if done.returncode or not got.exists():
            reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"could not download the cachetools {VERSION} sdist: {reason}")
        os.replace(got, target)  # atomic: a parallel run sees the whole file or none
    return target


def _extract_tests(sdist, into):
    """Copy the sdist's tests/ folder into `into`/tests, and nothing else."""
    prefix = f"cachetools-{VERSION}/tests/"
    tests = into / "tests"
    tests.mkdir()
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            name = member.name[len(prefix):]
            if member.isfile() and member.name.startswith(prefix) and "/" not in name:
                (tests / name).write_bytes(tar.extractfile(member).read())
    return tests


def _child_env(*paths):
    # No third-party pytest plugins (nbval, hypothesis, ...): cachetools' tests need none,
    # and loading them is most of a child pytest's start-up time.
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
               PYTHONPATH=os.pathsep.join(str(path) for path in paths))
    env.pop("PYTEST_ADDOPTS", None)
    return env


def test_cachetools_own_suite_passes_against_cachelab(tmp_path):
    tests = _extract_tests(_sdist(), tmp_path)
    assert (tests / "__init__.py").exists() and all((tests / m).exists() for m in MODULES)
    shim = tmp_path / "shim" / "cachetools"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(SHIM)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # no ini from further up the tree
    report = tmp_path / "report.xml"
    env = _child_env(shim.parent, pathlib.Path(__file__).resolve().parents[1])
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"--junitxml={report}", *(f"tests/{m}" for m in MODULES)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert report.exists(), run.stdout[-3000:] + run.stderr[-3000:]

    cases = list(ET.parse(report).iter("testcase"))
    failed = [f"{case.get('classname')}.{case.get('name')}" for case in cases
              if case.find("failure") is not None or case.find("error") is not None]
    skipped = [case.get("name") for case in cases if case.find("skipped") is not None]
    ran = {case.get("classname").split(".")[1] for case in cases}
    assert not failed, f"{len(failed)} of {len(cases)} cachetools tests fail:\n" + "\n".join(failed) \
        + "\n" + run.stdout[-4000:]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert not skipped
    # Every module ran: the mixin (about 30 tests) once per class, plus each class's own.
    assert ran == {m[:-3] for m in MODULES}
    assert len(cases) >= 30 * len(MODULES)
    print(f"cachetools {VERSION} suite against cachelab: {len(cases) - len(failed)}/{len(cases)} passed")


def test_the_shim_really_replaces_cachetools(tmp_path):
    """The suite must run against cachelab: without the shim, the conftest refuses to start."""
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                         cwd=tmp_path, env=_child_env(), capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "CACHELAB_SHIM" in run.stdout + run.stderr
