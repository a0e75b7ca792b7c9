"""Real cache traces by name: downloaded once, checked, and read from a local copy first.

In the style of scikit-learn's fetchers (`fetch_covtype()`, `fetch_openml()`):
`fetch_trace(name)` returns a named public trace, looking for its file

1. in the folder named by the environment variable CACHELAB_DATA, if set
   (the tests and CI point it at the shared data folder beside the repo,
   so that nothing there touches the network);
2. in the user's cache directory, `get_data_home()`;
3. at the trace's URL, downloaded once into `get_data_home()`.

Every file is checked against its sha256 before it is used, so a
truncated download or a different file of the same name is an error that
says so, not a silently different curve.
"""

import collections
import hashlib
import os
import pathlib
import shutil
import tempfile
import urllib.request

import numpy as np

from .._checks import check_choice
from .workloads import ORACLE_GENERAL

__all__ = ["DATA_ENV", "TRACES", "RemoteTrace", "Trace", "fetch_trace", "get_data_home", "read_oracle_general",
           "trace_path"]

DATA_ENV = "CACHELAB_DATA"  # a folder holding local copies of the traces, looked at first

RemoteTrace = collections.namedtuple(
    "RemoteTrace", "name filename url sha256 size requests objects source licence")
RemoteTrace.__doc__ = ("Where a public trace comes from: its file, URL, sha256 and size in bytes, "
                       "its requests and distinct objects, who published it and under what terms.")

Trace = collections.namedtuple("Trace", "name keys sizes times path", defaults=(None,))
Trace.__doc__ = ("A trace as arrays, one entry per request: the object's key, its size in bytes "
                 "(for byte hit ratios) and the request's timestamp in seconds; and the file it "
                 "was read from, which libCacheSim reads itself.")

# The one registry of traces; the README's "Real traces" section says the same in prose.
TRACES = {
    "cloudphysics": RemoteTrace(
        name="cloudphysics",
        filename="cloudPhysicsIO.oracleGeneral.bin",
        # Pinned to a commit, so the file behind the URL cannot change under its checksum.
        url="https://raw.githubusercontent.com/1a1a11a/libCacheSim/"
            "aa0fc40914b2b786f4b9f4dafb099f8f332b216a/data/cloudPhysicsIO.oracleGeneral.bin",
        sha256="65438dd7b2d3dec7ffe8a5c9348045da92de3311f339b7b59c9a0a44e6050dea",
        size=2_732_928,
        requests=113_872,
        objects=48_974,
        source="A sample of the CloudPhysics block I/O traces (Waldspurger et al., FAST'15), as "
               "redistributed in libCacheSim's repository (data/), in its oracleGeneral format.",
        licence="Shipped in libCacheSim's GPL-3.0 repository with no separate terms of its own; "
                "for research and teaching, citing the SHARDS paper (FAST'15).",
    ),
}

_BLOCK = 1 << 20  # bytes hashed or copied at a time


def get_data_home(path=None):
    """Return the folder downloads are cached in: `path`, or ~/.cache/cachelab (XDG_CACHE_HOME)."""
    if path is None:
        base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
        path = pathlib.Path(base) / "cachelab"
    return pathlib.Path(path)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _checked(path, trace):
    """Return path if it holds exactly the trace's bytes, else raise naming what differs."""
    got = _sha256(path)
    if got != trace.sha256:
        raise ValueError(f"{path} is not the {trace.name!r} trace: its sha256 is {got}, "
                         f"expected {trace.sha256}; delete it to download it again")
    return path


def trace_path(name, *, data_home=None, download=True):
    """Return the local path of the trace `name`, checked; download it first if it is missing.

    Looks in $CACHELAB_DATA, then in `data_home` (default: the user's cache
    directory); with `download=False` a missing file is an error instead.
    """
    trace = TRACES[check_choice("name", name, TRACES)]
    local = os.environ.get(DATA_ENV)
    if local and (pathlib.Path(local) / trace.filename).is_file():
        return _checked(pathlib.Path(local) / trace.filename, trace)
    home = get_data_home(data_home)
    path = home / trace.filename
    if path.is_file():
        return _checked(path, trace)
    if not download:
        raise FileNotFoundError(f"trace {name!r} is not in ${DATA_ENV} ({local or 'unset'}) or {home}, "
                                "and download=False")
    return _download(trace, path)


def _download(trace, path):
    # Into a temporary file beside the target, checked, then renamed: an interrupted
    # or corrupted download never leaves a file that looks complete.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{trace.filename}.", dir=path.parent)
    try:
        try:
            with urllib.request.urlopen(trace.url, timeout=60) as response, os.fdopen(handle, "wb") as file:
                shutil.copyfileobj(response, file, _BLOCK)
        except OSError as error:  # URLError too: no network, no such host, a refused connection
            raise OSError(f"could not download the {trace.name!r} trace from {trace.url} ({error}); "
                          f"without a network, set {DATA_ENV} to a folder holding {trace.filename}") from error
        _checked(partial, trace)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return path


def read_oracle_general(path, name=None):
    """Read a libCacheSim oracleGeneral binary as a Trace: keys, sizes in bytes, timestamps."""
    size = os.path.getsize(path)
    if not size or size % ORACLE_GENERAL.itemsize:
        raise ValueError(f"{path} is not an oracleGeneral trace: {size} bytes is not a whole, "
                         f"non-zero number of {ORACLE_GENERAL.itemsize}-byte records")
    records = np.fromfile(path, dtype=ORACLE_GENERAL)
    ids = records["id"]
    keys = ids.astype(np.int64) if int(ids.max()) < 2**63 else ids
    return Trace(name or pathlib.Path(path).name, keys, records["size"].astype(np.int64),
                 records["time"].astype(np.int64), pathlib.Path(path))


def fetch_trace(name, *, data_home=None, download=True):
    """Return the public trace `name` (one of TRACES) as a Trace, fetching it on first use.

    >>> trace = fetch_trace("cloudphysics")        # doctest: +SKIP
    >>> len(trace.keys), len(set(trace.keys))      # doctest: +SKIP
    (113872, 48974)
    """
    return read_oracle_general(trace_path(name, data_home=data_home, download=download), name)
