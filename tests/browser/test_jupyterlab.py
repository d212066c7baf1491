"""A chapter in a real client: JupyterLab (from the venv) on a loopback port with a token, driven
by the same headless Chromium.  Run All, then: the live widget of an interactive figure renders,
moving its slider from the keyboard redraws the figure (with alt text), and the prose shows a
glued number (jupyterlab-myst evaluates {eval}`glued(...)`) equal to the one the built book shows.

The chapter runs in a copy in a scratch folder, so the repository's notebook is not touched.
JupyterLab's checks for news and updates and its extension manager are off: nothing leaves
loopback.
"""
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from bookpages import CHROMEDRIVER, CHROMIUM, ROOT, SHOTS, page_file

CHAPTER = os.environ.get("NNBOOK_LAB_CHAPTER", "chapters/01_perceptron")
RUN_ALL_TIMEOUT = 180  # seconds; the chapter runs in 9-15 s on an idle machine


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from conftest import _browser_missing

    _browser_missing()
    work = tmp_path_factory.mktemp("jupyterlab")
    nbdir = work / "notebooks"
    nbdir.mkdir()
    shutil.copy(ROOT / f"{CHAPTER}.ipynb", nbdir)
    port, token = free_port(), secrets.token_hex(16)
    # JupyterLab 4 keeps only the cells in view in the page; the test reads every cell.
    settings = work / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(work / "config"), JUPYTER_RUNTIME_DIR=str(work / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(work / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"),
               MPLCONFIGDIR=str(work / "mpl"), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env.pop("NNBOOK_BOOK_BUILD", None)
    jupyter = Path(sys.executable).with_name("jupyter")
    log = open(work / "lab.log", "w")
    proc = subprocess.Popen(
        [str(jupyter), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={nbdir}", "--allow-root",
         "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.extension_manager=readonly", f"--LabApp.workspaces_dir={work / 'workspaces'}"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(work / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.25)
        yield f"http://127.0.0.1:{port}", token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def lab_driver():
    """Chromium as in conftest, but with websockets allowed (the kernel talks over ws://127.0.0.1)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="nnbook-lab-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,1200",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
                 "--proxy-server=http://127.0.0.1:9"):
        options.add_argument(flag)
    os.environ["SE_OFFLINE"] = "true"
    drv = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    drv.set_page_load_timeout(120)
    yield drv
    drv.quit()
    shutil.rmtree(profile, ignore_errors=True)


def click_menu(driver, menu, item):
    driver.find_element(By.XPATH, f"//div[contains(@class,'lm-MenuBar-itemLabel') and text()='{menu}']").click()
    WebDriverWait(driver, 10).until(
        lambda d: d.find_elements(By.XPATH, f"//div[contains(@class,'lm-Menu-itemLabel') and text()='{item}']"))
    driver.find_element(By.XPATH, f"//div[contains(@class,'lm-Menu-itemLabel') and text()='{item}']").click()


def first_plain_eval(nb):
    """(cell index, prefix, suffix) around the first {eval} role with plain words on both sides."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for m in re.finditer(r"\{eval\}`glued\([^`]*\)`", cell.source):
            before = re.search(r"([A-Za-z][A-Za-z ]{10,})$", cell.source[: m.start()])
            after = re.match(r"^( [A-Za-z][A-Za-z ]{6,})", cell.source[m.end():])
            if before and after:
                return i, before.group(1)[-30:], after.group(1)
    pytest.fail(f"{CHAPTER} quotes no glued number between plain words")


@pytest.fixture(scope="module")
def ran_all(lab, lab_driver):
    base, token = lab
    driver = lab_driver
    name = Path(CHAPTER).name
    driver.get(f"{base}/lab/tree/{name}.ipynb?token={token}")
    WebDriverWait(driver, 90).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"))
    # the kernel is ready when its status says idle
    WebDriverWait(driver, 90).until(
        lambda d: d.execute_script("return document.querySelector('.jp-Notebook') !== null"))
    time.sleep(2)
    start = time.time()
    click_menu(driver, "Run", "Run All Cells")
    code_cells = len(driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-CodeCell"))

    def finished(d):
        prompts = [p.text for p in d.find_elements(By.CSS_SELECTOR, ".jp-CodeCell .jp-InputPrompt")]
        done = [p for p in prompts if re.fullmatch(r"\[\d+\]:", p.strip())]
        return len(done) == code_cells and not any("*" in p for p in prompts)

    try:
        WebDriverWait(driver, RUN_ALL_TIMEOUT, poll_frequency=1).until(finished)
    finally:
        SHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SHOTS / "jupyterlab.png"))
    print(f"JupyterLab Run All of {CHAPTER}: {time.time() - start:.1f} s")
    return driver


def test_run_all_has_no_error(ran_all):
    errors = ran_all.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] .ansi-red-fg, .jp-RenderedText[data-mime-type='application/vnd.jupyter.error']")
    tracebacks = [e.text[:300] for e in ran_all.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output") if "Traceback" in e.text]
    assert not tracebacks and not errors, tracebacks


def test_live_widget_renders_and_its_slider_redraws_the_figure(ran_all):
    driver = ran_all
    widget = WebDriverWait(driver, 30).until(
        lambda d: next((w for w in d.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output .widget-vbox")
                        if w.find_elements(By.CSS_SELECTOR, "img.nnb-live-frame")), None))
    img = widget.find_element(By.CSS_SELECTOR, "img.nnb-live-frame")
    assert img.get_attribute("alt").strip(), "the live frame has no alt text"
    before_src, before_alt = img.get_attribute("src"), img.get_attribute("alt")
    handle = widget.find_element(By.CSS_SELECTOR, ".widget-slider .noUi-handle, .widget-slider [role='slider']")
    label = widget.find_element(By.CSS_SELECTOR, ".widget-slider .widget-label")
    assert label.text.strip(), "the live slider has no visible label"
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", handle)
    driver.execute_script("arguments[0].focus()", handle)
    handle.send_keys(Keys.ARROW_RIGHT)  # a reader with a keyboard

    def redrawn(d):
        imgs = widget.find_elements(By.CSS_SELECTOR, "img.nnb-live-frame")
        return imgs and imgs[0].get_attribute("src") != before_src and imgs[0]

    new = WebDriverWait(driver, 60).until(redrawn)
    assert new.get_attribute("alt").strip()
    print(f"alt before: {before_alt!r}; after: {new.get_attribute('alt')!r}")


def test_live_widget_controls_pass_axe(ran_all):
    """The live widget's sliders have accessible names (axe-core on the widget alone)."""
    axe = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
    if not axe.exists():
        pytest.fail(f"no {axe}: `make browser` installs axe-core from npm")
    driver = ran_all
    widget = next(w for w in driver.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output .widget-vbox")
                  if w.find_elements(By.CSS_SELECTOR, "img.nnb-live-frame"))
    driver.execute_script(axe.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(arguments[0], {resultTypes: ['violations']}).then(r => done(JSON.stringify(r.violations)), e => done('error: ' + e));",
        widget,
    )
    assert not result.startswith("error:"), result
    import json

    bad = [(v["id"], v["impact"], [n["html"][:120] for n in v["nodes"][:2]]) for v in json.loads(result)
           if v["impact"] in ("serious", "critical")]
    assert not bad, bad


def test_prose_shows_the_glued_number_the_book_shows(ran_all):
    driver = ran_all
    nb = nbformat.read(ROOT / f"{CHAPTER}.ipynb", as_version=4)
    index, before, after = first_plain_eval(nb)
    pattern = re.compile(re.escape(before) + r"\s*(\S+?)\s*" + re.escape(after.strip()))
    cells = driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")
    text = WebDriverWait(driver, 30).until(
        lambda d: pattern.search(" ".join(cells[index].text.split())) and " ".join(cells[index].text.split()))
    assert "{eval}" not in text and "glued(" not in text
    shown = pattern.search(text).group(1)
    assert re.search(r"\d", shown), f"not a number: {shown!r}"
    book = page_file(CHAPTER)
    if not book.exists():
        pytest.skip("no built book to compare with")
    soup = BeautifulSoup(book.read_text(encoding="utf-8"), "html.parser")
    book_text = " ".join(soup.select_one("main").get_text(" ").split())
    book_match = re.search(re.escape(before) + r"\s*(\S+?)\s*" + re.escape(after.strip()), book_text)
    assert book_match, f"the book page does not have {before!r} ... {after!r}"
    assert shown == book_match.group(1), f"JupyterLab shows {shown}, the book {book_match.group(1)}"
    print(f"glued number in JupyterLab and in the book: {shown} ({before!r} ... {after!r})")
