"""Named public traces: the local copy first, then the user's cache, then one checked download.

Nothing here touches the network: the real trace comes from $CACHELAB_DATA
(conftest.py points it at the shared data folder), and the download path
is driven with a file:// URL and with an HTTP server on loopback.
"""

import functools
import hashlib
import http.server
import threading

import numpy as np
import pytest

from cachelab.lab import datasets
from cachelab.lab.datasets import DATA_ENV, TRACES, fetch_trace, read_oracle_general, trace_path
from cachelab.lab.workloads import load_trace, write_oracle_general


def test_the_real_trace_comes_from_the_local_folder():
    trace = fetch_trace("cloudphysics", download=False)
    info = TRACES["cloudphysics"]
    assert len(trace.keys) == info.requests and len(np.unique(trace.keys)) == info.objects
    assert np.array_equal(trace.keys, load_trace(str(trace_path("cloudphysics", download=False))))
    # Block I/O: requests of 512 bytes and up, in time order.
    assert trace.sizes.min() >= 512 and np.all(np.diff(trace.times) >= 0)


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A registered trace of 6 requests whose only copy is at a URL; no local folder."""
    source = tmp_path / "server"
    source.mkdir()
    path = write_oracle_general(np.array([1, 2, 1, 3, 1, 2]), source / "tiny.bin")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    remote = datasets.RemoteTrace("tiny", "tiny.bin", path.as_uri(), digest, path.stat().st_size,
                                  6, 3, "a test", "none")
    monkeypatch.setitem(TRACES, "tiny", remote)
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "empty"))
    return remote


def test_a_missing_trace_is_downloaded_once_and_checked(tiny, tmp_path):
    home = tmp_path / "home"
    trace = fetch_trace("tiny", data_home=home)
    assert trace.keys.tolist() == [1, 2, 1, 3, 1, 2] and (home / "tiny.bin").is_file()
    TRACES["tiny"] = tiny._replace(url="file:///nowhere/at/all.bin")  # a second fetch reads the copy
    assert fetch_trace("tiny", data_home=home).keys.tolist() == [1, 2, 1, 3, 1, 2]


def test_a_download_over_http_on_loopback(tiny, tmp_path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "server"))
    handler.log_message = lambda *args: None
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            TRACES["tiny"] = tiny._replace(url=f"http://127.0.0.1:{server.server_port}/tiny.bin")
            assert fetch_trace("tiny", data_home=tmp_path / "home").keys.tolist() == [1, 2, 1, 3, 1, 2]
        finally:
            server.shutdown()
            thread.join()


def test_a_corrupt_download_is_refused_and_leaves_nothing(tiny, tmp_path):
    TRACES["tiny"] = tiny._replace(sha256="0" * 64)
    home = tmp_path / "home"
    with pytest.raises(ValueError, match="sha256"):
        fetch_trace("tiny", data_home=home)
    assert list(home.iterdir()) == []


def test_the_local_folder_is_checked_too(tiny, tmp_path, monkeypatch):
    folder = tmp_path / "local"
    folder.mkdir()
    (folder / "tiny.bin").write_bytes(b"\0" * 24)  # the right name, the wrong bytes
    monkeypatch.setenv(DATA_ENV, str(folder))
    with pytest.raises(ValueError, match="is not the 'tiny' trace"):
        trace_path("tiny", data_home=tmp_path / "home")


def test_no_download_means_a_clear_error(tiny, tmp_path):
    with pytest.raises(FileNotFoundError, match="download=False"):
        fetch_trace("tiny", data_home=tmp_path / "home", download=False)


def test_the_cache_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert datasets.get_data_home() == tmp_path / "cachelab"


def test_a_file_that_is_not_oracle_general_is_named(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\0" * 25)
    with pytest.raises(ValueError, match="not an oracleGeneral trace"):
        read_oracle_general(bad)
