"""Browser tests of the built book: headless Chromium, driven by Selenium, offline.

They test what a reader sees in _build/html, so they need the built book and a browser.  They are
collected only when asked for by path (`pytest tests/browser`, which `make test-browser` and so
`make test` run); the plain `pytest tests chapters` run leaves them out.

The browser is Debian's chromium with its chromedriver, both given by path so that Selenium never
looks for (or downloads) a driver of its own.  It reaches only the loopback server these fixtures
start: every other host is unresolvable and sent to a closed proxy port, and each test checks the
DevTools network log that no request went anywhere else.
"""
import functools
import http.server
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

from bookpages import CHROMEDRIVER, CHROMIUM, HERE, SITE, collect, drain, wait_for_math


def pytest_ignore_collect(collection_path, config):
    """Collect these tests only when a command-line path points into tests/browser."""
    if collection_path.resolve() == HERE:
        return None
    asked = [Path(str(a).split("::")[0]).resolve() for a in config.args]
    if any(a == HERE or HERE in a.parents for a in asked):
        return None
    return True


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site():
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built book at {SITE}: run `make book` first (make test-browser does)")
    return SITE


@pytest.fixture(scope="session")
def server(site):
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _browser_missing():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).exists() and os.access(p, os.X_OK))]
    if not missing:
        return None
    message = (
        f"browser tests need Debian's chromium and chromium-driver ({', '.join(missing)} not found); "
        "`make test-browser` installs them with apt-get where it can"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message + " -- and CI=true, so this is a failure, not a skip")
    pytest.skip(message)


@pytest.fixture(scope="session")
def driver():
    _browser_missing()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="nnbook-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,1400",
        # Offline: names other than loopback do not resolve, and anything else goes to a closed
        # proxy port (Chromium sends loopback addresses past the proxy).
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # An explicit driver path means Selenium Manager is not used; SE_OFFLINE makes sure of it.
    os.environ["SE_OFFLINE"] = "true"
    drv = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    drv.set_page_load_timeout(60)
    drv.set_script_timeout(60)
    drv.execute_cdp_cmd("Network.enable", {})
    # A third lock for the usual ways out (the loopback server speaks plain http only).
    drv.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["https://*", "wss://*", "ws://*", "ftp://*"]})
    yield drv
    drv.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def visit(driver, server):
    """visit(docname) -> PageVisit: load a page of the book and wait for its math."""

    def go(path):
        url = f"{server}/{path}"
        drain(driver)
        driver.get(url)
        wait_for_math(driver)
        return collect(driver, url)

    return go
