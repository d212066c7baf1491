"""Accessibility of the built book: axe-core on every page of _toc.yml, alt text on every figure,
labelled sliders, and figures that stay legible in the theme's dark mode.

axe-core comes from npm (`make browser` installs it into tests/browser/vendor, never from a CDN)
and is injected into each page by the test, so the built book does not ship it.
"""
import json
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from bookpages import HERE, SHOTS, chapter_pages, page_file, toc_pages

AXE = HERE / "vendor" / "axe.min.js"
PAGES = toc_pages()
# WCAG 2 A and AA, the rules the issue asks for (jupyter-book #436, #2135), plus axe's best practices.
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
               "resultTypes": ["violations"]}


@pytest.fixture(scope="session")
def axe_source():
    if not AXE.exists():
        pytest.fail(f"no {AXE}: `make browser` installs axe-core from npm")
    return AXE.read_text(encoding="utf-8")


def run_axe(driver, axe_source):
    driver.execute_script(axe_source)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, arguments[0]).then(r => done(JSON.stringify(r.violations)), e => done('error: ' + e));",
        AXE_OPTIONS,
    )
    assert not result.startswith("error:"), result
    return json.loads(result)


def describe(violations):
    lines = []
    for v in violations:
        targets = [" ".join(map(str, n["target"])) for n in v["nodes"][:4]]
        lines.append(f"{v['impact']} {v['id']} ({len(v['nodes'])}x): {v['help']} -- e.g. {targets}")
    return "\n".join(lines)


@pytest.mark.parametrize("docname", PAGES)
def test_axe_finds_no_serious_or_critical_violation(visit, driver, axe_source, docname):
    visit(f"{docname}.html")
    violations = run_axe(driver, axe_source)
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / f"axe-{Path(docname).name}.json").write_text(json.dumps(violations, indent=1))
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, f"{docname}:\n{describe(bad)}"


# Figures allowed to lack alt text of their own (MyST-NB's default alt is the image's file name;
# an interactive figure without alt= falls back to its title): none.  Every figure cell carries
# "mystnb": {"image": {"alt": ...}} and every explore(...) call alt=; a page with more fails.
KNOWN_WITHOUT_ALT = {}


def figures_without_alt(main):
    """(figure descriptions) of the figures on a page whose alt text is missing or a stand-in."""
    missing = []
    for img in main.select("img"):
        alt = (img.get("alt") or "").strip()
        if not alt or "_images/" in alt or alt.endswith((".png", ".svg")):
            missing.append(f"img {img.get('src', '')[:60]} alt={alt!r}")
    for fig in main.select("div.nnb-explore"):
        title = fig.select_one(".nnb-title")
        title = title.get_text(strip=True) if title else "interactive figure"
        data = fig.select_one("script.nnb-frames")
        alts = json.loads(data.string)["alts"] if data else [fig.select_one("img.nnb-frame").get("alt", "")]
        if all(a == title for a in alts):
            missing.append(f"interactive figure {title!r} (no alt=, its title stands in)")
    return missing


@pytest.mark.parametrize("docname", chapter_pages())
def test_every_figure_and_frame_has_alt_text(docname):
    soup = BeautifulSoup(page_file(docname).read_text(encoding="utf-8"), "html.parser")
    main = soup.select_one("main")
    for fig in main.select("div.nnb-explore"):
        data = fig.select_one("script.nnb-frames")
        if data is not None:
            frames = json.loads(data.string)
            assert len(frames["alts"]) == len(frames["frames"]), f"{docname}: a frame without alt text"
            assert all(a.strip() for a in frames["alts"]), f"{docname}: an empty alt text"
        for slider in fig.select("input.nnb-slider"):
            label = slider.find_parent("label")
            assert label is not None and label.get_text(strip=True), f"{docname}: a slider without a label"
    missing = figures_without_alt(main)
    known = KNOWN_WITHOUT_ALT.get(docname, 0)
    assert len(missing) <= known, f"{docname}: {len(missing)} figures without alt text (known: {known}): {missing}"
    if missing:
        pytest.xfail(f"{docname}: {len(missing)} figures still without alt text, for the chapter's author")


def test_static_slider_works_from_the_keyboard_and_updates_alt(visit, driver):
    chapters = chapter_pages()
    if not chapters:
        pytest.skip("no chapter")
    for docname in chapters:
        visit(f"{docname}.html")
        figs = driver.find_elements(By.CSS_SELECTOR, "div.nnb-explore:not(.nnb-single)")
        for fig in figs:
            sliders = [s for s in fig.find_elements(By.CSS_SELECTOR, "input.nnb-slider") if int(s.get_attribute("max")) > 0]
            if not sliders:
                continue
            slider = sliders[0]
            img = fig.find_element(By.CSS_SELECTOR, "img.nnb-frame")
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", slider)
            before = img.get_attribute("data-frame")
            at_end = int(slider.get_attribute("value")) == int(slider.get_attribute("max"))
            # Tab focus is what a keyboard user has: focus the slider, then press an arrow key.
            driver.execute_script("arguments[0].focus()", slider)
            assert driver.switch_to.active_element == slider
            driver.switch_to.active_element.send_keys(Keys.ARROW_LEFT if at_end else Keys.ARROW_RIGHT)
            WebDriverWait(driver, 5).until(lambda d: img.get_attribute("data-frame") != before)
            frames = json.loads(fig.find_element(By.CSS_SELECTOR, "script.nnb-frames").get_attribute("textContent"))
            assert img.get_attribute("alt") == frames["alts"][int(img.get_attribute("data-frame"))]
            k = int(slider.get_attribute("value"))
            assert slider.get_attribute("aria-valuetext") == frames["labels"][int(slider.get_attribute("data-param"))][k]
            return
    pytest.fail("no interactive figure with a slider to move in any chapter")


def test_dark_mode_screenshot_and_figures_on_a_light_ground(visit, driver):
    """One chapter in the theme's dark mode: figures sit on a light ground (the screenshot,
    _build/browser/dark-mode.png, is for a person to look at)."""
    chapters = chapter_pages()
    docname = chapters[0] if chapters else "intro"
    visit(f"{docname}.html")
    driver.execute_script("document.documentElement.dataset.theme = 'dark'; document.documentElement.dataset.mode = 'dark';")
    imgs = driver.find_elements(By.CSS_SELECTOR, "main .cell_output img, main img.nnb-frame")
    assert imgs, f"{docname} has no figure"
    for img in imgs:
        bg = driver.execute_script("return getComputedStyle(arguments[0]).backgroundColor", img)
        rgb = [int(x) for x in re.findall(r"\d+", bg)[:3]]
        assert len(rgb) == 3 and min(rgb) >= 230, f"{docname}: a figure on {bg} in dark mode"
    page_bg = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert max(int(x) for x in re.findall(r"\d+", page_bg)[:3]) < 80, f"dark mode did not apply: {page_bg}"
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", imgs[0])
    SHOTS.mkdir(parents=True, exist_ok=True)
    out = SHOTS / "dark-mode.png"
    assert driver.save_screenshot(str(out))
    assert out.stat().st_size > 10_000
    driver.execute_script("document.documentElement.dataset.theme = 'light'; document.documentElement.dataset.mode = 'light';")
