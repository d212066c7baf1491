"""What a reader of the built book sees, checked in headless Chromium with no network.

Pages come from _toc.yml, so a new chapter is tested as soon as it is in the table of contents.
"""
import re
from pathlib import Path

import pytest
import snowballstemmer
from bs4 import BeautifulSoup
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from bookpages import ROOT, SHOTS, SITE, chapter_pages, page_file, toc_pages

PAGES = toc_pages()
CHAPTERS = chapter_pages()
# What a page shows where an interactive figure failed to become its static view.
BROKEN_FIGURE = [
    "Loading widget",
    "Error displaying widget",
    "Interactive figure (move the sliders).",  # the text/plain fallback of lib.widgets
    " object at 0x",
    "<Figure size",
    "VBox(children",
    "HBox(children",
]


def text_of(driver):
    return driver.execute_script("return document.body.innerText")


def prose_of(driver):
    """The page's visible text less its code (source cells may well contain TeX strings)."""
    return driver.execute_script(
        """
        const main = document.querySelector("main").cloneNode(true);
        main.querySelectorAll("pre, code, .highlight, script, style").forEach((e) => e.remove());
        document.body.appendChild(main);  // innerText needs the copy to be laid out
        const text = main.innerText;
        main.remove();
        return text;
        """
    )


def math_nodes(docname):
    """How many math elements (MyST dollar and amsmath math) the built page has."""
    soup = BeautifulSoup(page_file(docname).read_text(encoding="utf-8"), "html.parser")
    return len(soup.select("main .math"))


def assert_clean(visit):
    assert not visit.off_loopback(), f"{visit.url} requested something off loopback: {visit.off_loopback()}"
    assert not visit.failures(), f"{visit.url} had failed requests: {visit.failures()}"
    assert not visit.console_errors(), f"{visit.url} logged console errors: {visit.console_errors()}"


def test_the_toc_lists_the_back_matter_and_pages_are_built(site):
    assert {"references", "glossary"} <= set(PAGES)
    missing = [p for p in PAGES if not page_file(p).exists()]
    assert not missing, f"pages in _toc.yml but not in {SITE}: {missing}"


@pytest.mark.parametrize("docname", PAGES + ["search", "genindex"])
def test_page_loads_offline_without_errors(visit, driver, docname):
    v = visit(f"{docname}.html")
    assert driver.find_elements(By.CSS_SELECTOR, "main h1"), f"{docname}: no heading, so no page"
    assert_clean(v)
    shown = text_of(driver)
    for bad in BROKEN_FIGURE:
        assert bad not in shown, f"{docname} shows {bad!r}"


@pytest.mark.parametrize("docname", [p for p in PAGES if p.startswith("chapters/") or p == "glossary"])
def test_math_is_typeset(visit, driver, docname):
    count = math_nodes(docname)
    if count == 0:
        pytest.skip(f"{docname} has no math")
    visit(f"{docname}.html")
    rendered = driver.find_elements(By.CSS_SELECTOR, "mjx-container")
    assert len(rendered) >= count, f"{docname}: {count} math elements, only {len(rendered)} typeset"
    assert not driver.find_elements(By.CSS_SELECTOR, "mjx-merror"), f"{docname}: MathJax reports a TeX error"
    shown = prose_of(driver)
    assert "$$" not in shown, f"{docname} shows raw $$ math"
    for raw in ("\\begin{", "\\frac", "\\("):
        assert raw not in shown, f"{docname} shows raw TeX {raw!r}"


PAGE_BUDGET = 4_000_000  # bytes of HTML a page may weigh, its embedded figure frames included


def test_page_weight(site):
    sizes = sorted(((page_file(p).stat().st_size, p) for p in PAGES), reverse=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "page-sizes.txt").write_text("".join(f"{n:>10,d}  {p}.html\n" for n, p in sizes))
    heavy = [(p, n) for n, p in sizes if n > PAGE_BUDGET]
    assert not heavy, f"pages over {PAGE_BUDGET:,d} bytes: {heavy}"
    for n, p in sizes:
        html = page_file(p).read_text(encoding="utf-8")
        assert "application/vnd.jupyter.widget-state+json" not in html, f"{p} embeds ipywidgets state no one renders"


def test_chapters_exist_to_test():
    if not CHAPTERS:
        pytest.skip("no chapter in _toc.yml yet")
    assert all(page_file(c).exists() for c in CHAPTERS)


@pytest.mark.parametrize("docname", CHAPTERS)
def test_static_sliders_change_the_frame(visit, driver, docname):
    visit(f"{docname}.html")
    figures = driver.find_elements(By.CSS_SELECTOR, "div.nnb-explore")
    assert figures, f"{docname} has no interactive figure (the chapter contract asks for one)"
    moved = 0
    for fig in figures:
        img = fig.find_element(By.CSS_SELECTOR, "img.nnb-frame")
        for slider in fig.find_elements(By.CSS_SELECTOR, "input.nnb-slider"):
            if int(slider.get_attribute("max")) == 0:
                continue  # a parameter with a single value has nowhere to move
            shown = fig.find_element(By.CSS_SELECTOR, f"output[data-param='{slider.get_attribute('data-param')}']")
            before_src, before_label = img.get_attribute("src"), shown.text
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", slider)
            at_end = int(slider.get_attribute("value")) == int(slider.get_attribute("max"))
            slider.send_keys(Keys.ARROW_LEFT if at_end else Keys.ARROW_RIGHT)  # as a reader would
            WebDriverWait(driver, 5).until(lambda d: img.get_attribute("src") != before_src)
            assert shown.text != before_label, f"{docname}: slider moved but the value shown stayed {before_label}"
            assert img.get_attribute("src").startswith("data:image/png;base64,")
            moved += 1
    assert moved, f"{docname}: no slider with more than one value"


def _search_term():
    """A word whose stem the search index holds for the last built chapter and no other page."""
    import json

    raw = (SITE / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(raw[raw.index("(") + 1 : raw.rindex(")")])
    docs = index["docnames"]
    last = next(c for c in reversed(CHAPTERS) if page_file(c).exists())
    target = docs.index(last)

    def postings(table, stem):
        hits = set()
        for term, where in table.items():
            if stem in term:  # Sphinx's search also matches terms that contain the query
                hits.update(where if isinstance(where, list) else [where])
        return hits

    stem = snowballstemmer.stemmer("porter").stemWord
    main = BeautifulSoup(page_file(last).read_text(encoding="utf-8"), "html.parser").select_one("main")
    for node in main.select("pre, code, .highlight, .math, script, style"):
        node.decompose()  # a word of the prose, not an identifier from a code cell
    words = sorted(set(re.findall(r"\b[a-z]{7,}\b", main.get_text(" "))), key=lambda w: (-len(w), w))
    for word in words:
        s = stem(word)
        if postings(index["terms"], s) == {target} and not postings(index["titleterms"], s) - {target}:
            return last, word
    pytest.fail(f"no word of {last} is unique to it in the search index")


def test_search_finds_a_word_only_the_last_chapter_has(visit, driver):
    if not CHAPTERS:
        pytest.skip("no chapter in _toc.yml yet")
    last, word = _search_term()
    v = visit(f"search.html?q={word}")
    WebDriverWait(driver, 30).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results ul.search li")
        or "did not match" in d.find_element(By.ID, "search-results").text
    )
    links = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "#search-results ul.search li a")]
    pages = {re.sub(r"^.*?/(?=[^/]*$)|[?#].*$", "", h) for h in links}
    assert any(h.split("?")[0].split("#")[0].endswith(f"/{last}.html") for h in links), f"search for {word!r}: {links}"
    assert pages == {Path(last).name + ".html"}, f"search for {word!r} found other pages too: {links}"
    assert_clean(v)


def test_launch_buttons_and_lazy_thebe(visit, driver):
    if not CHAPTERS:
        pytest.skip("no chapter in _toc.yml yet")
    first = CHAPTERS[0]
    v = visit(f"{first}.html")
    assert_clean(v)  # in particular, thebe's library was not fetched on load
    hrefs = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "a")]
    nb = Path(first).name + ".ipynb"
    assert any(h and h.startswith("https://mybinder.org/v2/gh/nnbook/nnbook/main") and nb in h for h in hrefs)
    assert any(h and h.startswith("https://colab.research.google.com/github/nnbook/nnbook/blob/main/") and nb in h for h in hrefs)
    assert any(h and h.endswith(f"_sources/{first}.ipynb") for h in hrefs), "no .ipynb download link"
    # Clicking "Live Code" is what loads Thebe (offline here, so the request goes nowhere).
    thebe_js = driver.execute_script("return THEBE_JS_URL")
    assert thebe_js not in v.requests()
    driver.execute_script("initThebeSBT()")
    WebDriverWait(driver, 10).until(lambda d: thebe_js in _requests(d))


def _requests(driver):
    import json

    return [
        json.loads(e["message"])["message"]["params"]["request"]["url"]
        for e in driver.get_log("performance")
        if '"Network.requestWillBeSent"' in e["message"]
    ]


def test_screenshot_of_a_chapter_for_a_person(visit, driver):
    docname = CHAPTERS[0] if CHAPTERS else "intro"
    visit(f"{docname}.html")
    fig = driver.find_elements(By.CSS_SELECTOR, "div.nnb-explore")
    if fig:
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", fig[0])
    SHOTS.mkdir(parents=True, exist_ok=True)
    out = SHOTS / (Path(docname).name + ".png")
    assert driver.save_screenshot(str(out))
    assert out.stat().st_size > 10_000, "the screenshot is (nearly) empty"
    print(f"screenshot: {out.relative_to(ROOT) if ROOT in out.parents else out}")
