"""Helpers of the browser tests: where the built book is, its pages, and what a page load logged."""
import json
import os
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("NNBOOK_SITE", ROOT / "_build" / "html"))
SHOTS = Path(os.environ.get("NNBOOK_SHOTS", ROOT / "_build" / "browser"))
CHROMIUM = os.environ.get("NNBOOK_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("NNBOOK_CHROMEDRIVER", "/usr/bin/chromedriver")
HERE = Path(__file__).resolve().parent
LOOPBACK = ("127.0.0.1", "localhost")


def toc_pages():
    """Every page of _toc.yml in reading order, as docnames without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                pages.append(str(Path(node["file"]).with_suffix("")))
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)

    walk(toc)
    return pages


def chapter_pages():
    """The chapters (pages under chapters/) listed in the table of contents, in order."""
    return [p for p in toc_pages() if p.startswith("chapters/")]


def page_file(docname):
    return SITE / f"{docname}.html"


class PageVisit:
    """One page load: the console messages and network events the browser logged for it."""

    def __init__(self, url, console, network):
        self.url, self.console, self.network = url, console, network

    def requests(self):
        return [e["params"]["request"]["url"] for e in self.network if e["method"] == "Network.requestWillBeSent"]

    def off_loopback(self):
        from urllib.parse import urlsplit

        bad = []
        for url in self.requests():
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about", "chrome-extension"):
                continue
            if parts.hostname not in LOOPBACK:
                bad.append(url)
        return bad

    def failures(self):
        urls = {e["params"]["requestId"]: e["params"]["request"]["url"]
                for e in self.network if e["method"] == "Network.requestWillBeSent"}
        failed = []
        for e in self.network:
            p = e["params"]
            if e["method"] == "Network.loadingFailed":
                failed.append(f"{urls.get(p['requestId'], '?')}: {p.get('errorText')} {p.get('blockedReason', '')}")
            elif e["method"] == "Network.responseReceived" and p["response"]["status"] >= 400:
                failed.append(f"{p['response']['url']}: HTTP {p['response']['status']}")
        return failed

    def console_errors(self):
        return [f"{m['level']}: {m['message']}" for m in self.console if m["level"] == "SEVERE"]


def drain(drv):
    drv.get_log("browser")
    drv.get_log("performance")


def collect(drv, url):
    console = drv.get_log("browser")
    network = []
    for entry in drv.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method", "").startswith("Network."):
            network.append(msg)
    return PageVisit(url, console, network)


def wait_for_math(drv):
    """Wait until MathJax has typeset the page (if the page loads MathJax at all)."""
    return drv.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const start = Date.now();
        (function poll() {
          if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
            MathJax.startup.promise.then(() => done(true), (e) => done("error: " + e));
          } else if (!document.querySelector("script[src*='mathjax']") || Date.now() - start > 30000) {
            done(false);
          } else { setTimeout(poll, 50); }
        })();
        """
    )


