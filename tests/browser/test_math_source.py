"""What MathJax made of every formula, and the ledger's marks: read in the browser, page by page.

A TeX macro inside \\text{...} is not an error for MathJax: it prints the backslash and the name
as text, and a reader sees "\\sigma(z)" inside a typeset formula.  So the internal MathML of each
typeset formula is read back as the characters a reader sees, and a backslash followed by letters
fails, as does any MathJax error.  Every ledger mark must link to a row of the page's ledger table.
"""
import pytest
from bookpages import chapter_pages, toc_pages
from selenium.webdriver.common.by import By

PAGES = toc_pages()

READ_BACK = """
if (typeof MathJax === "undefined" || !MathJax.startup || !MathJax.startup.document) return [0, []];
const found = [];
for (const item of MathJax.startup.document.math) {
  const mml = MathJax.startup.toMML(item.root);
  // what the reader sees, token after token: a backslash followed by letters is a raw macro,
  // whether it sits inside one text node or was split as \\backslash + text
  const box = document.createElement("div");
  box.innerHTML = mml;  // decodes entities such as &#x5C; for a backslash
  const shown = box.textContent.replace(/\\s+/g, "");
  const raw = shown.match(/\\\\[A-Za-z]+/g) || [];
  // a backslash escaped as \\backslash shows as the set-minus sign; followed by text, it is a macro
  if (/&#x2216;<\\/m[io]>\\s*<mtext>[A-Za-z]/.test(mml)) raw.push("\\\\ before text");
  if (raw.length || mml.includes("<merror")) found.push([String(item.math).slice(0, 160), raw]);
}
return [Array.from(MathJax.startup.document.math).length, found];
"""


@pytest.mark.parametrize("docname", PAGES)
def test_no_formula_shows_a_raw_macro_or_an_error(visit, driver, docname):
    visit(f"{docname}.html")
    typeset, found = driver.execute_script(READ_BACK)
    if typeset == 0:
        pytest.skip(f"{docname} has no math")
    assert not found, f"{docname}: formulas that show raw TeX or a MathJax error: {found[:5]}"


def test_the_read_back_catches_a_raw_macro(visit, driver):
    """The check above can fail: a formula with a macro inside \\text is caught."""
    visit(f"{chapter_pages()[0]}.html")  # a page that loads MathJax
    found = driver.execute_script(
        """
        const div = document.createElement("div");
        div.className = "math";
        div.textContent = "\\\\[a = \\\\text{\\\\sigma(z) - y}\\\\]";
        document.querySelector("main").appendChild(div);
        const readBack = () => {""" + READ_BACK + """};
        return MathJax.typesetPromise([div]).then(() => { const r = readBack(); div.remove(); return r; });"""
    )
    assert found[1] and "\\sigma" in found[1][0][1]


@pytest.mark.parametrize("docname", chapter_pages())
def test_every_mark_links_to_a_row_of_the_ledger(visit, driver, docname):
    visit(f"{docname}.html")
    marks = driver.find_elements(By.CSS_SELECTOR, "main a.nnb-mark[id]")  # in the text
    back = driver.find_elements(By.CSS_SELECTOR, "main table.nnb-ledger-table a.nnb-mark")  # in the table
    rows = driver.find_elements(By.CSS_SELECTOR, "main table.nnb-ledger-table tbody tr")
    assert rows, f"{docname} shows no ledger table (ledger.table() in its last section)"
    ids = {r.get_attribute("id") for r in rows}
    targets = {m.get_attribute("href").split("#", 1)[1] for m in marks}
    assert targets <= ids, f"{docname}: marks that link to no ledger row: {sorted(targets - ids)[:5]}"
    marked = {m.get_attribute("id") for m in marks}
    ups = {m.get_attribute("href").split("#", 1)[1] for m in back}
    assert ups <= marked, f"{docname}: ledger rows that link back to no mark: {sorted(ups - marked)[:5]}"
    checked = driver.find_elements(By.CSS_SELECTOR, "main .nnb-checked")
    assert checked, f"{docname}: no checked formula carries a mark"
    for formula in checked:
        assert formula.find_elements(By.CSS_SELECTOR, "mjx-container"), f"{docname}: a checked formula is not typeset"
        # a link to its ledger row; in an exercise's solution (after the table) a mark without one
        assert formula.find_elements(By.CSS_SELECTOR, ".nnb-mark"), f"{docname}: a checked formula has no mark"
