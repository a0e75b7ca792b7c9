"""Seeded workloads (access patterns): arrays of integer keys, one per request.

Every generator takes `seed=` (or an explicit numpy `rng=`), so a test, a
notebook and a slider all see the same trace.  `load_trace()` reads a
real trace (one key per line, a CSV such as `timestamp,key,size`, or
libCacheSim's oracleGeneral binary), and `write_oracle_general()` writes
one in the binary format libCacheSim reads fastest.
"""

import codecs
import csv
import os
import warnings

import numpy as np

from .._checks import check_choice, check_fraction, check_int
from ..reuse import next_uses

__all__ = [
    "ORACLE_GENERAL",
    "SKEWED",
    "WORKLOADS",
    "load_trace",
    "loop",
    "make_trace",
    "read_write_workload",
    "scan",
    "shifting_hotset",
    "uniform",
    "write_oracle_general",
    "zipf",
    "zipf_scan",
]


def _rng(seed, rng):
    if rng is not None and seed is not None:
        raise ValueError("pass either seed or rng, not both")
    return rng if rng is not None else np.random.default_rng(seed)


def uniform(n_requests, n_keys, *, seed=None, rng=None):
    """Every key equally likely."""
    n_requests = check_int("n_requests", n_requests, 0)
    n_keys = check_int("n_keys", n_keys, 1)
    return _rng(seed, rng).integers(0, n_keys, size=n_requests)


def zipf(n_requests, n_keys, alpha=1.0, *, seed=None, rng=None):
    """Key k (0 is the most popular) drawn with probability proportional to 1/(k+1)**alpha.

    Unlike numpy's `zipf`, the key space is bounded and any alpha >= 0 works,
    including the common web-cache range alpha <= 1.
    """
    n_requests = check_int("n_requests", n_requests, 0)
    n_keys = check_int("n_keys", n_keys, 1)
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0, got {alpha!r}")
    weights = np.arange(1, n_keys + 1, dtype=np.float64) ** -float(alpha)
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    draws = _rng(seed, rng).random(n_requests)
    # side="right" keeps a draw of exactly cdf[k] out of key k.
    return np.minimum(np.searchsorted(cdf, draws, side="right"), n_keys - 1)


def scan(n_requests, n_keys):
    """0, 1, 2, ... n_keys-1, then around again: every key once per pass."""
    n_requests = check_int("n_requests", n_requests, 0)
    n_keys = check_int("n_keys", n_keys, 1)
    return np.arange(n_requests) % n_keys


def loop(n_requests, cache_size, extra=1):
    """A scan over `cache_size + extra` keys: the pathological case for LRU."""
    cache_size = check_int("cache_size", cache_size, 1)
    extra = check_int("extra", extra, 1)
    return scan(n_requests, cache_size + extra)


def shifting_hotset(n_requests, n_keys, hot_keys=10, phases=4, hot_fraction=0.9, *,
                    seed=None, rng=None):
    """A hot set of `hot_keys` keys takes `hot_fraction` of the requests, then moves on.

    The trace falls into `phases` equal parts; each part has its own hot
    set (the next `hot_keys` keys along), and the rest of its requests
    are uniform over all keys.  A cache must forget the old hot set.
    """
    n_requests = check_int("n_requests", n_requests, 0)
    n_keys = check_int("n_keys", n_keys, 1)
    hot_keys = check_int("hot_keys", hot_keys, 1)
    phases = check_int("phases", phases, 1)
    if hot_keys > n_keys:
        raise ValueError(f"hot_keys must be <= n_keys ({n_keys}), got {hot_keys!r}")
    check_fraction("hot_fraction", hot_fraction)
    rng = _rng(seed, rng)
    phase = np.arange(n_requests) * phases // max(n_requests, 1)
    hot = (phase * hot_keys + rng.integers(0, hot_keys, size=n_requests)) % n_keys
    cold = rng.integers(0, n_keys, size=n_requests)
    return np.where(rng.random(n_requests) < hot_fraction, hot, cold)


def zipf_scan(n_requests, n_keys, alpha=1.0, scan_length=None, scan_every=None, *,
              seed=None, rng=None):
    """Zipf traffic interrupted by scans: a batch job reading a cold table end to end.

    After every `scan_every` Zipf requests come `scan_length` requests for
    keys n_keys, n_keys+1, ... (the same cold table each time).  Defaults:
    a table of n_keys // 2 keys, scanned after every 2 * n_keys requests.
    """
    n_requests = check_int("n_requests", n_requests, 0)
    n_keys = check_int("n_keys", n_keys, 1)
    scan_length = check_int("scan_length", max(n_keys // 2, 1) if scan_length is None
                            else scan_length, 1)
    scan_every = check_int("scan_every", 2 * n_keys if scan_every is None else scan_every, 1)
    where = np.arange(n_requests) % (scan_every + scan_length)
    scanning = where >= scan_every
    trace = np.empty(n_requests, dtype=np.int64)
    trace[scanning] = n_keys + where[scanning] - scan_every
    trace[~scanning] = zipf(int((~scanning).sum()), n_keys, alpha, seed=seed, rng=rng)
    return trace


_TRACE_FORMATS = ("txt", "csv", "oracleGeneral")
_BLOCK = 1 << 18      # bytes read at a time: memory stays flat however long the file is
_MAX_LINE = 1 << 20   # a longer line is not a trace request
_PROGRESS_FROM = 32 << 20  # files at least this large show a progress bar by default


def load_trace(path, column=None, *, format=None, delimiter=",", encoding="utf-8", progress=None):
    """Read a trace from a file; return a numpy array with one key per request.

    Formats (`format=`; by default the file's name and first line decide):

    * "txt": one key per line.  The whole line, less surrounding spaces, is
      the key, with no CSV quoting, so a key may hold quotes or commas.
      Chosen when `column` is not given and the first line has no `delimiter`.
      A first line reading `key` is a header (a one-column CSV), not a request.
    * "csv": fields split by `delimiter`, with CSV quoting; the key is in
      `column`, a position (0 = first field) or a header name (then the first
      line is a header).  Without `column`, a first line with a `key` field
      (in any case) is taken as the header and that column is read, so a
      `timestamp,key,size` file works as it is; otherwise the first field is
      the key.
    * "oracleGeneral": libCacheSim's binary trace, 24-byte little-endian
      records (time u32, id u64, size u32, next-access i64), as written by
      `write_oracle_general()`.  Chosen for names ending in .bin or
      .oracleGeneral.  Only the ids are read.

    One rule decides what a key is, whatever else the file holds: two
    requests are for the same key exactly when the key is written the same,
    so `01` and `1` are two keys.  If every key is a plain decimal integer
    (no leading zeros, spaces or `+`), the keys come back as an int64 array,
    or uint64 when some ids need all 64 bits; otherwise every key is a
    string exactly as written: a numpy str array, or an object array of str
    when one key is so much longer than the others that fixed-width strings
    would pad every key to its length.  Blank lines and a UTF-8 byte-order
    mark (as spreadsheet programs write) are skipped.

    The file is read a block at a time, so memory stays a few times the
    size of the result, and grows with the file, not with its longest key.
    Files over 32 MB show a progress bar on stderr; `progress=True` or
    `False` forces it on or off.  Errors name the file and the line.
    """
    name = _check_trace_args(path, column, format, delimiter, encoding, progress)
    if format is None:
        format = _guess_format(name, column, delimiter, encoding)
    size = os.path.getsize(name)
    show = size >= _PROGRESS_FROM if progress is None else progress
    from tqdm import tqdm
    with tqdm(total=size, unit="B", unit_scale=True, desc=f"reading {os.path.basename(name)}",
              disable=not show, leave=False) as bar:
        if format == "oracleGeneral":
            return _read_oracle_general(name, bar)
        keys = _TraceKeys()
        blocks = _text_blocks(name, encoding, bar)
        if format == "txt":
            for first, text in blocks:
                lines = _lines_of(text)
                if first == 1 and lines and lines[0].lower() == "key":
                    del lines[0]  # a one-column CSV's header
                keys.add(lines)
        else:
            _read_csv_keys(name, blocks, column, delimiter, keys)
    return keys.result(name)


def _check_trace_args(path, column, format, delimiter, encoding, progress):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file name, got {path!r}")
    name = os.fspath(path)
    if isinstance(column, bool) or not isinstance(column, (int, str, type(None))):
        raise TypeError(f"column must be a field position or a header name, got {column!r}")
    if isinstance(column, int) and column < 0:
        raise ValueError(f"column must be a field position >= 0 or a header name, got {column!r}")
    if format is not None and format not in _TRACE_FORMATS:
        raise ValueError(f"format must be one of {', '.join(_TRACE_FORMATS)} (or None to guess), "
                         f"got {format!r}")
    if format == "oracleGeneral" and column is not None:
        raise ValueError("column applies to text traces; an oracleGeneral trace has its ids in place")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '\n\r"':
        raise ValueError(f"delimiter must be one character such as ',' or '\\t', got {delimiter!r}")
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise ValueError(f"encoding must be a text encoding such as 'utf-8' or 'latin-1', "
                         f"got {encoding!r}") from None
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None (automatic), got {progress!r}")
    if not os.path.isfile(name):
        raise FileNotFoundError(f"no trace file at {name!r}")
    return name


def _guess_format(name, column, delimiter, encoding):
    lowered = name.lower()
    if lowered.endswith((".zst", ".gz", ".xz", ".bz2")):
        raise ValueError(f"{name!r} is compressed; decompress it first (zstd -d, gunzip, ...)")
    if lowered.endswith((".bin", ".oraclegeneral")):
        return "oracleGeneral"
    if column is not None:
        return "csv"
    for _, text in _text_blocks(name, encoding, None):
        for line in text.split("\n"):
            if line.strip():
                return "csv" if delimiter in line else "txt"
    return "txt"


def _text_blocks(name, encoding, bar):
    """Yield (number of the first line, text of whole lines) a block at a time."""
    with open(name, "rb") as file:
        rest, line = b"", 1
        if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig"):
            rest = file.read(len(codecs.BOM_UTF8))  # spreadsheets start a UTF-8 file with a BOM
            if bar is not None:
                bar.update(len(rest))
            rest = rest.removeprefix(codecs.BOM_UTF8)
        while True:
            block = file.read(_BLOCK)
            if bar is not None:
                bar.update(len(block))
            data = rest + block
            if block:
                cut = data.rfind(b"\n")
                whole, rest = (data[:cut], data[cut + 1:]) if cut >= 0 else (b"", data)
                complete = cut >= 0
            else:  # the end: what is left is the last line, with no newline after it
                whole, rest, complete = data, b"", bool(data)
            newlines = whole.count(b"\n")
            if len(rest) > _MAX_LINE:
                at = line + (newlines + 1 if complete else 0)
                raise ValueError(f"line {at} of {name!r} is longer than {_MAX_LINE >> 20} MiB; "
                                 "is this a trace of keys, one request per line?")
            if complete:
                yield line, _decode(name, whole, line, encoding)
                line += newlines + 1
            if not block:
                return


def _decode(name, whole, line, encoding):
    """Return the block's text, or raise naming the line that is not text."""
    newline = b"\n"
    if b"\0" in whole:
        at = line + whole.count(newline, 0, whole.index(b"\0"))
        raise ValueError(f"line {at} of {name!r} holds a NUL byte: this is a binary file, not text; "
                         "for libCacheSim's binary traces pass format='oracleGeneral'")
    try:
        return whole.decode(encoding)
    except UnicodeDecodeError as error:
        at = line + whole.count(newline, 0, error.start)
        column = error.start - whole.rfind(newline, 0, error.start)
        raise ValueError(f"line {at} of {name!r} is not {encoding} text ({error.reason} at character "
                         f"{column}); pass encoding=, e.g. encoding='latin-1'") from None


def _lines_of(text):
    """The non-blank lines of text, stripped of surrounding spaces."""
    if text.isascii() and not any(space in text for space in _OTHER_SPACE):
        return text.split()  # the same list, several times faster
    return [key for key in map(str.strip, text.split("\n")) if key]


_OTHER_SPACE = " \t\r\x0b\x0c\x1c\x1d\x1e\x1f"  # ASCII whitespace besides the newline


def _read_csv_keys(name, blocks, column, delimiter, keys):
    index = column if isinstance(column, int) else None
    request = 0
    for first, text in blocks:
        chunk = []
        for offset, line in enumerate(text.split("\n")):
            if not line.strip():
                continue
            try:
                fields = (next(csv.reader([line], delimiter=delimiter)) if '"' in line
                          else line.rstrip("\r").split(delimiter))
            except csv.Error as error:
                raise ValueError(f"line {first + offset} of {name!r} is not valid CSV: {error}") from None
            if index is None:
                header = [field.strip() for field in fields]
                if column is None:  # a header names its key column `key`, in any case
                    header, wanted = [field.lower() for field in header], "key"
                else:
                    wanted = column
                if wanted in header:
                    index = header.index(wanted)
                    continue
                if column is not None:
                    raise ValueError(f"column {column!r} is not in the header of {name!r}; "
                                     f"the header has {fields!r}")
                index = 0
            request += 1
            if index >= len(fields):
                raise ValueError(f"column {column!r} is missing on request {request} "
                                 f"(line {first + offset}) of {name!r}")
            chunk.append(fields[index].strip())
        keys.add(chunk)
    if index is None and isinstance(column, str):
        raise ValueError(f"column {column!r} is not in the header of {name!r}; the file is empty")


class _TraceKeys:
    """Keys gathered a block at a time: integers while every key is one, else strings.

    A block of strings is a fixed-width numpy str array when padding its
    keys to the longest costs little, else an object array, so memory grows
    with the file, never with the longest key times the count.
    """

    def __init__(self):
        self.chunks = []        # int64/uint64 arrays while every key is an integer, then str/object arrays
        self.integers = True
        self.chars = self.longest = self.count = 0  # of the string keys so far

    def add(self, keys):
        if not keys:
            return
        if self.integers:
            values = _integer_keys(keys)
            if values is not None:
                self.chunks.append(values)
                return
            self._to_strings()
        self._add_strings(keys)

    def _add_strings(self, keys):
        chars, longest = sum(map(len, keys)), max(map(len, keys))
        self._count(_strings(keys, chars, longest), chars, longest)

    def _count(self, chunk, chars, longest):
        self.chunks.append(chunk)
        self.chars += chars
        self.longest = max(self.longest, longest)
        self.count += len(chunk)

    def _to_strings(self):
        # Integer keys were written canonically, so str() gives back their text exactly.
        chunks, self.chunks, self.integers = self.chunks, [], False
        for chunk in chunks:
            text = chunk.astype(str)
            self._count(text, int(np.char.str_len(text).sum()), text.dtype.itemsize // 4)

    def result(self, name):
        if not self.chunks:
            raise ValueError(f"trace file {name!r} has no requests")
        if self.integers and len({chunk.dtype for chunk in self.chunks}) > 1:
            # Some blocks needed uint64; that works only if no block has a negative key.
            if any(chunk.dtype == np.int64 and chunk.min() < 0 for chunk in self.chunks):
                self._to_strings()
            else:
                self.chunks = [chunk.astype(np.uint64) for chunk in self.chunks]
        if self.integers or _pads_little(self.count, self.chars, self.longest):
            return np.concatenate(self.chunks)
        # One key much longer than the rest: fixed-width strings would pad every key to it.
        return np.concatenate([chunk.astype(object) for chunk in self.chunks])


def _pads_little(count, chars, longest):
    """True if `count` strings padded to the `longest` take at most a few times their `chars`."""
    return longest * count <= 4 * max(chars, count)


def _strings(keys, chars, longest):
    """A numpy array of the keys: fixed-width str if that pads little, else object (one str each)."""
    return np.array(keys) if _pads_little(len(keys), chars, longest) else np.array(keys, dtype=object)


def _integer_keys(keys):
    """Return keys as an int64 (or uint64) array if each is a canonical decimal integer, else None."""
    joined = "\n".join(keys)
    if not joined.isascii() or joined.encode().translate(None, b"0123456789-\n"):
        return None
    for dtype in (np.int64, np.uint64):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                values = np.fromstring(joined, dtype=dtype, sep="\n")
            except (ValueError, OverflowError):
                continue
        # The round trip refuses 01, -0 and anything that did not fit.
        if len(values) == len(keys) and list(map(str, values.tolist())) == keys:
            return values
    return None


def _read_oracle_general(name, bar):
    size = os.path.getsize(name)
    record = ORACLE_GENERAL.itemsize
    if size % record:
        raise ValueError(f"{name!r} is not an oracleGeneral trace: its size ({size} bytes) is not a "
                         f"multiple of its {record}-byte records")
    if not size:
        raise ValueError(f"trace file {name!r} has no requests")
    records = np.memmap(name, dtype=ORACLE_GENERAL, mode="r")
    ids = np.empty(len(records), dtype=np.uint64)
    step = _BLOCK // record
    for start in range(0, len(records), step):
        ids[start:start + step] = records["id"][start:start + step]
        bar.update(min(step, len(records) - start) * record)
    del records
    # Ids below 2**63 (nearly every trace) come back as int64, like the generators' traces.
    return ids.view(np.int64) if int(ids.max()) < 2**63 else ids


# libCacheSim's oracleGeneral binary: one 24-byte record a request.
ORACLE_GENERAL = np.dtype([("time", "<u4"), ("id", "<u8"), ("size", "<u4"), ("next", "<i8")])


def write_oracle_general(trace, path):
    """Write an integer trace as libCacheSim's oracleGeneral binary (unit sizes); return path.

    Each request is 24 bytes: time, key, size and the time of the next
    request for the same key (-1 for none), which Belady's OPT reads.
    """
    keys = np.asarray(trace)
    if keys.ndim != 1 or keys.dtype.kind not in "iu" or (len(keys) and keys.min() < 0):
        raise ValueError("trace must be a one-dimensional array of non-negative integer keys")
    records = np.zeros(len(keys), dtype=ORACLE_GENERAL)
    records["time"] = np.arange(len(keys))
    records["id"] = keys
    records["size"] = 1
    nxt = next_uses(keys)
    records["next"] = np.where(nxt == len(keys), -1, nxt)
    records.tofile(path)
    return path


# Each workload by name, built with the other generators' defaults: (n_requests, n_keys, alpha, seed).
_BUILDERS = {
    "zipf": lambda n, keys, alpha, seed: zipf(n, keys, alpha, seed=seed),
    "uniform": lambda n, keys, alpha, seed: uniform(n, keys, seed=seed),
    "zipf+scan": lambda n, keys, alpha, seed: zipf_scan(n, keys, alpha, seed=seed),
    "loop": lambda n, keys, alpha, seed: scan(n, keys),
    "hotset": lambda n, keys, alpha, seed: shifting_hotset(n, keys, hot_keys=max(keys // 20, 1),
                                                           seed=seed),
}
WORKLOADS = tuple(_BUILDERS)
SKEWED = ("zipf", "zipf+scan")  # the workloads whose shape alpha sets


def make_trace(workload, n_requests, n_keys, alpha=1.0, *, seed=0):
    """Build one of WORKLOADS by name, with the other generators' defaults.

    'loop' cycles over all n_keys keys, so every cache smaller than n_keys
    is the pathological loop; 'hotset' moves a hot set of n_keys // 20 keys
    four times; 'zipf+scan' scans a cold table of n_keys // 2 keys.
    """
    return _BUILDERS[check_choice("workload", workload, _BUILDERS)](n_requests, n_keys, alpha, seed)


def read_write_workload(n_ops, read_fraction, *, n_keys=50, alpha=1.0, seed=0, cold_writes=False):
    """Return a seeded list of ("read" | "write", key) operations over Zipf-popular keys.

    With `cold_writes`, every write goes to a key of its own that is never read
    (a new order, a log line) instead of a popular one; the reads are the same.
    """
    check_fraction("read_fraction", read_fraction)
    rng = np.random.default_rng(seed)
    keys = zipf(n_ops, n_keys, alpha, rng=rng).tolist()
    reads = (rng.random(n_ops) < read_fraction).tolist()
    return [("read", f"k{key}") if r else ("write", f"new{i}" if cold_writes else f"k{key}")
            for i, (r, key) in enumerate(zip(reads, keys))]
