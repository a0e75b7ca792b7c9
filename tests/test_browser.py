"""The experiment notebooks and the stampede notebook in JupyterLab, in Debian's Chromium: run all, move a slider, see it change.

    make test-browser          # or: pytest -m browser tests
    CACHELAB_SCREENSHOTS=docs pytest -m browser tests   # also keep the screenshots

Each test copies its notebook to a temporary folder and starts its own
server there (kernels outlive the page), with a temporary HOME and
settings, autosave off, and every request that leaves 127.0.0.1 aborted.
"""

import contextlib
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlparse

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    # Render every cell, so the widget exists in the page even when scrolled out of view.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
STDOUT = ".widget-output [data-mime-type='application/vnd.jupyter.stdout']"
# What the widget draws: HTML (step boxes) or SVG (the TTL timeline, the hit-rate chart),
# both sent as text/html; a PNG, should a widget send one.
VIEW = ".widget-output img, .widget-output [data-mime-type='text/html']"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_settings(folder):
    for name, values in SETTINGS.items():
        path = folder / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@contextlib.contextmanager
def _lab(tmp_path, notebook):
    """Serve a copy of `notebook` from JupyterLab on a free port; yield the URL that opens it."""
    root, home = tmp_path / "root", tmp_path / "home"
    root.mkdir()
    shutil.copy(NOTEBOOKS / notebook, root / notebook)
    _write_settings(home / "settings")
    env = dict(os.environ, HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"))
    port, token = _free_port(), secrets.token_hex(16)
    log = open(tmp_path / "lab.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(f"{base}/api/status?token={token}", server, tmp_path / "lab.log")
        yield f"{base}/lab/tree/{notebook}?token={token}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its kernels
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _wait_for_server(url, server, log, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"jupyter lab exited:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"jupyter lab did not answer within {timeout} s")


def _local_only(route):
    if urlparse(route.request.url).hostname == "127.0.0.1":
        route.continue_()
    else:
        route.abort()


def _visible(page):
    """What the reader sees in the first widget: its printed line and its view's markup."""
    text = page.locator(STDOUT).first.inner_text()
    return text.strip(), page.locator(VIEW).first.evaluate("view => view.outerHTML")


# The text and the view arrive as separate messages; wait for both, and for
# a new image to be decoded, so the assertions and the screenshot see them.
_CHANGED = """([stdout, view, oldText, oldView]) => {
    const text = document.querySelector(stdout), shown = document.querySelector(view);
    return text && shown && text.innerText.trim() !== oldText && shown.outerHTML !== oldView
        && (shown.tagName !== "IMG" || (shown.complete && shown.naturalWidth > 0));
}"""


def _move_slider(tmp_path, notebook, slider):
    """Run every cell, press ArrowRight on the `slider` handle, and return the text before and after."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make chromium)")
    with _lab(tmp_path, notebook) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1200})
            page.route("**/*", _local_only)
            page.goto(url)
            page.locator(".jp-StatusBar-Widget", has_text="Python 3 (ipykernel) | Idle").first.wait_for(
                timeout=90_000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            label = page.locator(f"label:text-is('{slider}')")
            control = page.locator(".widget-slider", has=label).first
            handle = control.locator(".noUi-handle")
            handle.wait_for(timeout=60_000)
            page.locator(VIEW).first.wait_for(timeout=60_000)
            before = _visible(page)
            handle.focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_function(_CHANGED, arg=[STDOUT, VIEW, *before], timeout=30_000)
            after = _visible(page)
            widget = page.locator(".jp-OutputArea-output", has=page.locator(".widget-interact")).first
            widget.scroll_into_view_if_needed()
            page.wait_for_timeout(500)  # let the new plot paint before the picture
            shot = tmp_path / f"{notebook.removesuffix('.ipynb')}.png"
            widget.screenshot(path=shot)
            if os.environ.get("CACHELAB_SCREENSHOTS"):
                shutil.copy(shot, pathlib.Path(os.environ["CACHELAB_SCREENSHOTS"]) / shot.name)
        finally:
            browser.close()
    assert after[1] != before[1], "the view did not change"
    return before[0], after[0]


@pytest.mark.parametrize("notebook, slider, shown, moved", [
    ("02-ttl-expiration.ipynb", "ttl", "ttl 1 s: 0 hits", "ttl 1.5 s: 4 hits"),
    ("03-lru-eviction.ipynb", "size", "E miss, evicted A", "E miss, evicted C"),
    ("04-lfu-eviction.ipynb", "size", "E miss, evicted D", "E miss, evicted C"),
    ("05-hit-rate-simulation.ipynb", "size", "LRU, size 20", "LRU, size 21"),
    ("10-stampede.ipynb", "jitter %", "191 with +-10%", "with +-15%"),
], ids=["ttl", "lru", "lfu", "hit-rate", "stampede"])
def test_moving_a_slider_changes_what_the_reader_sees(tmp_path, notebook, slider, shown, moved):
    before, after = _move_slider(tmp_path, notebook, slider)
    assert shown in before, before
    assert moved in after, after
