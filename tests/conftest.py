import os
import pathlib
import sys
import tempfile

# The contract mixin lives beside the tests.
sys.path.insert(0, str(pathlib.Path(__file__).parent))

# libcachesim writes a hub cache under ~/.cache on import; keep it out of HOME.
os.environ.setdefault("LCS_HUB_CACHE", tempfile.mkdtemp(prefix="cachelab-lcs-"))

# CI explores the same examples on every run; locally Hypothesis keeps searching.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
