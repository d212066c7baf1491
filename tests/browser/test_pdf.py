"""The printed book (make pdf, _build/pdf/book.pdf): nothing beyond the page margins, no display
equation cut off, and a bookmarked outline with every chapter.

Pages are rendered to images with pdftoppm (Debian's poppler-utils, which `make browser`
installs); the outline is read with pdftohtml -xml from the same package.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from bookpages import ROOT, SHOTS, chapter_pages

PDF = Path(os.environ.get("NNBOOK_PDF", ROOT / "_build" / "pdf" / "book.pdf"))
SINGLE = ROOT / "_build" / "singlehtml"
DPI = 30
# Chromium prints with 0.4 in margins; a band of 0.3 in along each edge must stay blank.
BAND = round(0.3 * DPI)
INK = 245  # a grey level below this (of 255) is ink


def poppler(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} not found: `make browser` installs poppler-utils")
    return path


@pytest.fixture(scope="module")
def pdf():
    if not PDF.exists():
        pytest.fail(f"no {PDF}: run `make pdf` first (make test does)")
    return PDF


@pytest.fixture(scope="module")
def page_images(pdf, tmp_path_factory):
    out = tmp_path_factory.mktemp("pdf-pages")
    subprocess.run([poppler("pdftoppm"), "-r", str(DPI), "-gray", "-png", str(pdf), str(out / "p")], check=True)
    pages = sorted(out.glob("p-*.png"))
    assert pages
    return pages


def test_nothing_is_printed_in_the_margin_band(page_images):
    import numpy as np
    from PIL import Image

    offenders = []
    for path in page_images:
        ink = np.asarray(Image.open(path).convert("L")) < INK
        bands = {"left": ink[:, :BAND], "right": ink[:, -BAND:], "top": ink[:BAND, :], "bottom": ink[-BAND:, :]}
        hit = [side for side, band in bands.items() if band.any()]
        if hit:
            offenders.append(f"page {int(path.stem.split('-')[1])}: {', '.join(hit)}")
    assert not offenders, f"content in the margin band ({BAND} px at {DPI} dpi): {offenders}"


def test_the_margin_check_sees_ink_in_the_band(tmp_path):
    """The check above can fail: a page with a mark near its right edge is caught."""
    import numpy as np
    from PIL import Image

    page = np.full((330, 255), 255, np.uint8)
    page[100:110, 250:253] = 0
    Image.fromarray(page).save(tmp_path / "p-1.png")
    with pytest.raises(AssertionError, match="page 1: right"):
        test_nothing_is_printed_in_the_margin_band([tmp_path / "p-1.png"])


def test_the_pdf_has_a_bookmarked_outline_with_every_chapter(pdf):
    xml = subprocess.run([poppler("pdftohtml"), "-xml", "-i", "-stdout", str(pdf)],
                         capture_output=True, text=True, check=True).stdout
    assert "<outline>" in xml, "the PDF has no outline (bookmarks)"
    items = [re.sub(r"\s+", "", t) for t in re.findall(r"<item[^>]*>(.*?)</item>", xml)]
    for docname in chapter_pages():
        from bs4 import BeautifulSoup

        soup = BeautifulSoup((ROOT / "_build" / "html" / f"{docname}.html").read_text(encoding="utf-8"), "html.parser")
        h1 = soup.select_one("main h1")
        for link in h1.select("a.headerlink"):
            link.decompose()
        title = re.sub(r"\s+", "", h1.get_text())
        assert any(title in item for item in items), f"no bookmark for {title!r}"


def test_printed_display_math_fits_the_column(driver, server):
    """In the print layout of the single-page book, every display equation fits its column
    (nnbook-print.js scales the wide ones down) instead of being cut off."""
    if not (SINGLE / "intro.html").exists():
        pytest.fail("no _build/singlehtml: run `make pdf` first (make test does)")
    import functools
    import http.server
    import threading

    from conftest import QuietHandler

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(SINGLE)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        # Letter paper less Chromium's 0.4 in margins, at 96 px per inch.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": round(7.7 * 96), "height": 1000, "deviceScaleFactor": 1, "mobile": False})
        driver.get(f"http://127.0.0.1:{httpd.server_address[1]}/intro.html")
        from bookpages import wait_for_math

        wait_for_math(driver)
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        cut = driver.execute_script(
            """
            const out = [];
            document.querySelectorAll('mjx-container[display="true"]').forEach((m) => {
              const box = m.parentElement.getBoundingClientRect(), math = m.getBoundingClientRect();
              if (math.right > box.right + 1 || math.left < box.left - 1)
                out.push(Math.round(math.width) + " px in " + Math.round(box.width) + " px: " + m.textContent.slice(0, 50));
            });
            return [out, document.querySelectorAll('mjx-container.nnb-fitted').length];
            """
        )
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / "print-fitted-equations.txt").write_text(f"{cut[1]} display equations scaled to fit\n")
        assert not cut[0], f"display equations cut off in print: {cut[0]}"
        assert driver.find_elements(By.CSS_SELECTOR, "mjx-container[display='true']")
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        httpd.shutdown()
        httpd.server_close()
