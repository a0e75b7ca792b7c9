"""Workload generators: seeded, shaped as promised, and a trace loader with clear errors."""

import numpy as np
import pytest

from cachelab.lab.workloads import (
    load_trace,
    loop,
    scan,
    shifting_hotset,
    uniform,
    write_oracle_general,
    zipf,
    zipf_scan,
)


def test_same_seed_same_trace():
    for make in (lambda s: uniform(500, 50, seed=s), lambda s: zipf(500, 50, 0.8, seed=s),
                 lambda s: shifting_hotset(500, 50, seed=s), lambda s: zipf_scan(500, 50, seed=s)):
        assert np.array_equal(make(3), make(3)) and not np.array_equal(make(3), make(4))


def test_zipf_favours_low_keys_and_alpha_zero_is_uniform():
    counts = np.bincount(zipf(20_000, 100, 1.0, seed=0), minlength=100)
    assert counts[0] > 3 * counts[5] > 0 and counts.argmax() == 0
    flat = np.bincount(zipf(20_000, 100, 0.0, seed=0), minlength=100)
    assert flat.max() < 2 * flat.min()


def test_scan_and_loop():
    assert scan(7, 3).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert loop(6, 2).tolist() == [0, 1, 2, 0, 1, 2]


def test_shifting_hotset_moves():
    trace = shifting_hotset(4000, 1000, hot_keys=10, phases=4, hot_fraction=1.0, seed=1)
    phases = trace.reshape(4, 1000)
    assert [sorted(set(p.tolist())) for p in phases] == [
        list(range(i * 10, i * 10 + 10)) for i in range(4)]


def test_shifting_hotset_checks_its_arguments():
    with pytest.raises(ValueError, match="hot_keys"):
        shifting_hotset(10, 5, hot_keys=6)
    with pytest.raises(ValueError, match="hot_fraction"):
        shifting_hotset(10, 50, hot_fraction=1.5)


def test_zipf_scan_inserts_whole_scans_of_a_cold_table():
    trace = zipf_scan(300, 20, scan_length=10, scan_every=50, seed=0)
    assert trace[50:60].tolist() == list(range(20, 30))
    assert trace[110:120].tolist() == list(range(20, 30))
    assert trace[:50].max() < 20 and len(trace) == 300


def test_big_traces_come_back_as_integer_arrays():
    trace = zipf(1_000_000, 100_000, seed=0)
    assert trace.shape == (1_000_000,) and trace.dtype.kind == "i"
    assert 0 <= trace.min() and trace.max() < 100_000


def test_load_one_key_per_line(tmp_path):
    path = tmp_path / "trace.txt"
    path.write_text("3\n1\n\n3\n")
    assert load_trace(path).tolist() == [3, 1, 3]
    path.write_text("a\nb\na\n")
    assert load_trace(path).tolist() == ["a", "b", "a"]


def test_load_csv_by_name_or_position(tmp_path):
    path = tmp_path / "trace.csv"
    path.write_text("time,key,size\n0,7,100\n1,8,100\n2,7,50\n")
    assert load_trace(path, "key").tolist() == [7, 8, 7]
    # By position there is no header, so "size" is a key and every key is a string.
    assert load_trace(path, 2).tolist() == ["size", "100", "100", "50"]


def test_load_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="no trace file"):
        load_trace(tmp_path / "missing.txt")
    path = tmp_path / "t.csv"
    path.write_text("time,key\n0,1\n")
    with pytest.raises(ValueError, match="'id' is not in the header.*'key'"):
        load_trace(path, "id")
    path.write_text("1,2\n3\n")
    with pytest.raises(ValueError, match="missing on request 2"):
        load_trace(path, 1)
    path.write_text("\n\n")
    with pytest.raises(ValueError, match="no requests"):
        load_trace(path)
    with pytest.raises(TypeError, match="column"):
        load_trace(path, 1.5)


def test_oracle_general_records(tmp_path):
    path = write_oracle_general(np.array([5, 6, 5]), tmp_path / "t.bin")
    records = np.fromfile(path, dtype=[("t", "<u4"), ("id", "<u8"), ("size", "<u4"),
                                       ("next", "<i8")])
    assert records["id"].tolist() == [5, 6, 5] and records["next"].tolist() == [2, -1, -1]
    assert path.stat().st_size == 3 * 24
    with pytest.raises(ValueError, match="non-negative integer"):
        write_oracle_general(["a"], tmp_path / "x.bin")
