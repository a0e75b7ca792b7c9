"""The answer keys quote results; these re-derive them, so a change in the library cannot leave a key wrong.

Each test names the answer cell whose claim it checks, and reads that claim's
numbers from the key itself where the key states them.
"""

import functools
import json
import pathlib
import re

import pytest

from cachelab import FakeClock
from cachelab.lab.ecommerce import run_write_patterns
from cachelab.lab.experiments import lfu_steps, lru_steps, policy_steps, ttl_timeline

ROOT = pathlib.Path(__file__).resolve().parent.parent


def key(notebook, grade_id):
    """The text of one answer key in a source notebook."""
    path = next((ROOT / "notebooks").glob(f"{notebook}-*.ipynb"))
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return "".join(cell["source"])
    raise AssertionError(f"{path.name} has no {grade_id}")


def test_01_maxsize_two():
    f = functools.lru_cache(maxsize=2)(lambda x: x)
    for x in [1, 2, 3, 1, 4, 1, 2, 5, 1, 3]:
        f(x)
    assert f"CacheInfo(hits={f.cache_info().hits}, misses={f.cache_info().misses}, maxsize=2" in key(
        "01", "answer_maxsize_two")


def test_02_smallest_ttl_for_gap_one_and_a_half():
    hits = {ttl: sum(s.hit for s in ttl_timeline(ttl, 1.5).steps) for ttl in (1.5, 2.0)}
    assert hits[1.5] == 0 and f"{hits[2.0]} hits of 8" in key("02", "answer_smallest_ttl")


def test_02_bursts_lose_nothing_when_the_ttl_halves():
    schedule = "0 0.5 1 1.5 6 6.5 7"
    hits = [sum(s.hit for s in ttl_timeline(ttl, schedule=schedule).steps) for ttl in (4, 2)]
    assert hits[0] == hits[1] and f"gives {hits[0]} hits" in key("02", "answer_halving_for_free")


def test_03_size_that_evicts_nothing_and_the_loop_of_four():
    assert not any(s.evicted for s in lru_steps("A B C A D B E", 5))
    assert any(s.evicted for s in lru_steps("A B C A D B E", 4))
    hits = sum(s.hit for s in lru_steps("A B C D A B C D A B C D", 4))
    assert key("03", "answer_loop_fits").startswith(f"**Answer key.** {hits} hits of 12")


@pytest.mark.parametrize("sequence, lfu_wins", [("A A A B C A", True), ("A A A B C B", False)])
def test_04_six_requests_each_way(sequence, lfu_wins):
    lru, lfu = (sum(s.hit for s in steps(sequence, 2)) for steps in (lru_steps, lfu_steps))
    assert (lfu > lru) == lfu_wins and f"`{sequence}`" in key("04", "answer_lfu_against_lru")


def test_04_tie_and_favourite():
    assert lfu_steps("A B B A B C", 2)[-1].evicted == "A"
    assert [lfu_steps("A A A A " + "B " * n + "C", 2)[-1].evicted for n in (3, 4)] == ["B", "A"]


def test_06_write_behind_loses_every_event_after_the_flush():
    out = []
    _, lost = run_write_patterns(clock=FakeClock(), events=25, crash_after=15, out=out.append)
    assert len(lost) == 15 and "25 of 40 accepted events stored in 3 database writes, 15 lost" in out[-1]
    assert "All 15 are lost (25 of 40 accepted events stored, in the same 3 writes)" in key(
        "06", "answer_write_behind_loss")


def test_08_a_reaches_main_through_the_ghost():
    steps = policy_steps("S3-FIFO", "A B C D E F A A G H", 4)
    entered = next(s.step for s in steps if any("A" in row.keys for row in s.state if row.label == "main"))
    assert key("08", "answer_s3fifo_ghost").startswith(f"**Answer key.** At step {entered}.")


def test_11_delete_before_write_schedules():
    from cachelab.lab.consistency import interleavings, run

    stale = [s for s in interleavings("delete before write") if run("delete before write", s).stale]
    text = key("11", "answer_delete_before_write")
    assert re.findall(r"`([RW]{5})`", text.split(". In ")[0]) == stale


def test_16_flask_caching_keys_a_view_on_its_path_and_django_on_vary():
    from flask import Flask, request
    from flask_caching import Cache

    from cachelab.lab.frameworks import DjangoShop
    from cachelab.lab.store import Store

    text = key("16", "answer_view_cache_keys")
    assert "`view/` plus the request path" in text and "`Vary: Cookie`" in text
    app = Flask("keys")
    cache = Cache(app, config={"CACHE_TYPE": "SimpleCache"})

    @app.get("/account")
    @cache.cached()
    def account():
        return request.cookies.get("user", "")

    web = app.test_client(use_cookies=False)
    assert web.get("/account", headers={"Cookie": "user=101"}).text == "101"
    assert web.get("/account", headers={"Cookie": "user=102"}).text == "101"  # John's page, for Jane
    with app.app_context():
        assert cache.get("view//account") is not None  # the key: view/ and the path, nothing else
    with DjangoShop(Store(delay=0)) as shop:
        page = shop.client.get("/account", HTTP_COOKIE="user=101")
        assert page["Vary"] == "Cookie"
        assert shop.client.get("/account", HTTP_COOKIE="user=102").content != page.content
