"""load_trace() on the trace files people have: text, CSV, libCacheSim's oracleGeneral binary."""

import tracemalloc

import numpy as np
import pytest

from cachelab.lab.workloads import load_trace, write_oracle_general, zipf


def _load_measuring_peak(path):
    """Return load_trace(path) and the most memory tracemalloc saw allocated while it ran."""
    tracemalloc.start()
    try:
        return load_trace(path), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _file(tmp_path, text, name="trace.txt"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_unsigned_64_bit_ids_come_back_exactly(tmp_path):
    ids = [2**64 - 1, 1, 2**63, 2**63 - 1]
    keys = load_trace(_file(tmp_path, "".join(f"{i}\n" for i in ids)))
    assert keys.dtype == np.uint64 and keys.tolist() == ids
    assert load_trace(_file(tmp_path, "5\n-3\n")).dtype == np.int64


def test_ids_beyond_64_bits_or_mixing_signs_stay_exact_as_strings(tmp_path):
    assert load_trace(_file(tmp_path, f"{2**64}\n1\n")).tolist() == [str(2**64), "1"]
    assert load_trace(_file(tmp_path, f"{2**64 - 1}\n-1\n")).tolist() == [str(2**64 - 1), "-1"]


def test_a_leading_quote_is_part_of_the_key_in_a_one_key_per_line_file(tmp_path):
    path = _file(tmp_path, '"a\nb\nc d\n"e"\n')
    assert load_trace(path).tolist() == ['"a', "b", "c d", '"e"']


def test_csv_quoting_still_applies_to_csv_files(tmp_path):
    path = _file(tmp_path, 'time,key,size\n0,"a,b",10\n1,c,10\n', "t.csv")
    assert load_trace(path).tolist() == ["a,b", "c"]


def test_a_timestamp_key_size_csv_reads_its_key_column(tmp_path):
    path = _file(tmp_path, "timestamp,key,size\n0,7,100\n1,8,100\n2,7,50\n", "t.csv")
    assert load_trace(path).tolist() == [7, 8, 7]
    path = _file(tmp_path, "0,7,100\n1,8,100\n2,7,50\n", "t.csv")  # no header: say which column
    assert load_trace(path, 1).tolist() == [7, 8, 7]


@pytest.mark.parametrize("text", ["1\n01\n1\n", "1\n01\nx\n", "01\n1\n"])
def test_01_and_1_are_two_keys_in_every_file(tmp_path, text):
    keys = load_trace(_file(tmp_path, text))
    assert keys[0] != keys[1] and len(set(keys.tolist())) == len(set(text.split()))


def test_canonical_integers_come_back_as_integers(tmp_path):
    assert load_trace(_file(tmp_path, "3\n1\n\n-3\n0\n")).tolist() == [3, 1, -3, 0]
    assert load_trace(_file(tmp_path, "+3\n3\n")).tolist() == ["+3", "3"]


def test_keys_switch_to_strings_after_the_first_block_with_their_text_intact(tmp_path):
    trace = zipf(60_000, 1000, seed=1)  # several blocks of integers, then one string key
    text = "".join(f"{k}\n" for k in trace) + "x\n"
    keys = load_trace(_file(tmp_path, text))
    assert keys.dtype.kind == "U" and keys[:-1].tolist() == [str(k) for k in trace] and keys[-1] == "x"


def test_a_binary_file_is_named_with_its_line(tmp_path):
    path = _file(tmp_path, b"1\n2\n3\x00\x01\n", "odd.txt")
    with pytest.raises(ValueError, match=r"line 3 of '.*odd\.txt' holds a NUL byte.*oracleGeneral"):
        load_trace(path)


def test_a_latin_1_file_is_named_with_its_line(tmp_path):
    lines = [f"k{i}" for i in range(70_000)] + ["caf\xe9"]
    path = _file(tmp_path, ("\n".join(lines) + "\n").encode("latin-1"), "latin.txt")
    with pytest.raises(ValueError, match=r"line 70001 of '.*latin\.txt' is not utf-8 text"):
        load_trace(path)
    assert load_trace(path, encoding="latin-1")[-1] == "caf\xe9"


def test_a_huge_line_is_named_and_not_read_whole(tmp_path):
    path = _file(tmp_path, b"1\n" + b"x" * (3 << 20) + b"\n2\n", "huge.txt")
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"line 2 of '.*huge\.txt' is longer than 1 MiB"):
            load_trace(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_a_missing_column_names_the_request_and_the_line(tmp_path):
    path = _file(tmp_path, "1,2\n\n3\n", "t.csv")
    with pytest.raises(ValueError, match=r"missing on request 2 \(line 3\) of '.*t\.csv'"):
        load_trace(path, 1)


def test_memory_stays_a_small_multiple_of_the_result(tmp_path):
    trace = zipf(200_000, 1_000_000, seed=0)
    path = _file(tmp_path, "".join(f"{k}\n" for k in trace))
    keys, peak = _load_measuring_peak(path)
    assert keys.tolist() == trace.tolist()
    # One block's lines as Python objects plus the result; the old reader held every line (~40 MB).
    assert peak < 2 * keys.nbytes + (10 << 20)


def test_progress_bar_on_demand(tmp_path, capsys):
    path = _file(tmp_path, "1\n2\n")
    load_trace(path)
    assert capsys.readouterr().err == ""
    load_trace(path, progress=True)
    assert "reading trace.txt" in capsys.readouterr().err


def test_oracle_general_round_trip(tmp_path):
    trace = zipf(5000, 300, seed=2)
    path = write_oracle_general(trace, tmp_path / "t.oracleGeneral.bin")
    keys = load_trace(path)
    assert keys.dtype == np.int64 and keys.tolist() == trace.tolist()
    other = tmp_path / "t.data"
    other.write_bytes(path.read_bytes())
    assert load_trace(other, format="oracleGeneral").tolist() == trace.tolist()


def test_oracle_general_keeps_64_bit_ids(tmp_path):
    records = np.zeros(2, dtype=[("t", "<u4"), ("id", "<u8"), ("size", "<u4"), ("next", "<i8")])
    records["id"] = [2**64 - 1, 7]
    records.tofile(tmp_path / "big.bin")
    keys = load_trace(tmp_path / "big.bin")
    assert keys.dtype == np.uint64 and keys.tolist() == [2**64 - 1, 7]


def test_a_truncated_oracle_general_file_is_named(tmp_path):
    path = write_oracle_general(np.array([1, 2]), tmp_path / "t.bin")
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"'.*t\.bin' is not an oracleGeneral trace.*47 bytes"):
        load_trace(path)


def test_a_compressed_trace_is_named(tmp_path):
    with pytest.raises(ValueError, match="compressed"):
        load_trace(_file(tmp_path, b"\x28\xb5\x2f\xfd", "t.oracleGeneral.zst"))


@pytest.mark.parametrize("text, keys", [
    ("\ufeff1\n2\n1\n", [1, 2, 1]),
    ("\ufeffa\nb\na\n", ["a", "b", "a"]),
    ("\ufefftimestamp,key,size\n0,7,1\n1,8,1\n", [7, 8]),
    ("key\n1\n2\n1\n", [1, 2, 1]),
    ("\ufeffkey\nx\ny\n", ["x", "y"]),
    ("Key,size\n5,1\n6,1\n", [5, 6]),
    ("key,size\nkey,1\n", ["key"]),  # after the header, `key` is a key like any other
])
def test_a_byte_order_mark_and_a_key_header_are_not_requests(tmp_path, text, keys):
    """Spreadsheet programs write a UTF-8 BOM and a header row; neither is a request."""
    path = tmp_path / "trace.csv"
    path.write_bytes(text.encode("utf-8"))
    assert load_trace(path).tolist() == keys


def test_one_long_key_does_not_pad_every_key_to_its_length(tmp_path):
    longest, count = 64 << 10, 2000
    lines = [f"k{i % 50}" for i in range(count)]
    lines[count // 2] = "x" * longest
    path = _file(tmp_path, "\n".join(lines) + "\n")
    keys, peak = _load_measuring_peak(path)
    assert keys.tolist() == lines
    # Fixed-width strings would take count * longest characters (4 bytes each): 512 MB here.
    assert peak < count * longest // 20
