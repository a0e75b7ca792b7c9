"""Debian's Chromium against the shop: which navigations reach the server, as the server's own log says.

    make test-browser          # or: pytest -m browser tests

The browser's cache works only without request interception (Playwright's
route() turns it off), so other hosts are blocked by a resolver rule
instead (`CHROMIUM_ARGS`).  Each run has its own shop server and browser,
both stopped before the test ends.
"""

import os

import pytest

from cachelab.lab.http_experiments import CHROMIUM, browser_visits
from cachelab.lab.webshop import HEADER_CHOICES, HEADERS_OFF, HeaderPolicy

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


@pytest.mark.parametrize("policy, seen", [
    # Fresh for 60 s: typing the address again is answered by the browser's cache; a reload revalidates.
    (HeaderPolicy(), ["200", "200", "browser cache", "304"]),
    # Stored but never fresh: every navigation asks, and the ETag makes the answer a 304.
    (HEADER_CHOICES["no-cache + ETag"], ["200", "200", "304", "304"]),
    # No caching headers, as a framework sends by default: every navigation is a full page.
    (HEADERS_OFF, ["200", "200", "200", "200"]),
], ids=["max-age + ETag", "no-cache + ETag", "headers off"])
def test_the_browser_caches_what_the_headers_allow(policy, seen):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make chromium)")
    steps = browser_visits({"shop": policy})["shop"]
    assert [outcome for _, outcome in steps] == seen, steps
