"""The ledger page in a real headless browser (Debian's ``chromium``) at a 1280-pixel-wide viewport.

Parsing HTML says what a page contains, not how it lays out: a long criterion, a wide formula or a table can
still push the page sideways once CSS and MathJax have run. Here chromium loads the built page with every
``<details>`` line opened, and a probe script reports each element that scrolls sideways (an ``overflow-x``
of auto/scroll whose content is wider than its box), each table wider than the viewport, and whether the page
itself scrolls sideways. The probe is tested on two small pages first, one that must pass and one that must
fail, so a probe that could never fail is caught without a build.

``make test`` installs chromium where it can (``make browser``); without it these tests skip and say why.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from resnet_lab.artifacts import REPO_ROOT

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
HTML_ROOT = Path(os.environ.get("RESNET_LAB_BOOK_HTML", REPO_ROOT / "_build" / "html"))
ENABLED = os.environ.get("RESNET_LAB_BOOKCHECK") == "1"
VIEWPORT = (1280, 1000)

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (`make browser` "
                                    "installs Debian's as root): the layout checks need a real browser")

# Runs after load and a moment for MathJax; writes its findings into the DOM, which --dump-dom prints.
PROBE = """<script>
window.addEventListener('load', () => setTimeout(() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const root = document.querySelector('article') || document.body;
  const vw = document.documentElement.clientWidth;
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/)[0] : '');
  const problems = [];
  for (const el of root.querySelectorAll('*')) {
    const style = getComputedStyle(el);
    if (['auto', 'scroll'].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1)
      problems.push(`scrolls sideways: ${name(el)} (${el.scrollWidth} px of content in ${el.clientWidth} px)`);
    if (el.tagName === 'TABLE' && el.getBoundingClientRect().right > vw + 1)
      problems.push(`table wider than the viewport: ${name(el)} ends at ${Math.round(el.getBoundingClientRect().right)} px`);
  }
  if (document.documentElement.scrollWidth > vw + 1)
    problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px in a ${vw} px viewport`);
  const out = document.createElement('pre');
  out.id = 'layout-probe';
  out.textContent = JSON.stringify({viewport: vw, problems: problems});
  document.body.appendChild(out);
}, 1500));
</script>"""


def layout_problems(page: Path) -> tuple[int, list[str]]:
    """Return ``(viewport width, problems)`` of ``page`` laid out by chromium at ``VIEWPORT`` (details opened).

    The probe goes into a copy beside the page, so its stylesheets, scripts and images load as the reader's do.
    """
    probe = page.with_name(f"_layout_probe_{page.name}")
    text = page.read_text(encoding="utf-8")
    probe.write_text(text.replace("</body>", PROBE + "</body>") if "</body>" in text else text + PROBE,
                     encoding="utf-8")
    try:
        dom = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}", "--virtual-time-budget=8000", "--dump-dom",
             probe.resolve().as_uri()],
            capture_output=True, text=True, timeout=120, check=True).stdout
    finally:
        probe.unlink()
    found = re.search(r'<pre id="layout-probe">(.*?)</pre>', dom, re.S)
    assert found, "the layout probe did not run (chromium printed no probe result)"
    report = json.loads(found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    return report["viewport"], report["problems"]


# ------------------------------------------------------------------ the probe can fail (no build needed)
NARROW = "<html><body><article><details><summary>P1.1 holds</summary><p>{}</p></details></article></body></html>"
WIDE = ("<html><body><article><div style='overflow-x:auto'><table><tr>{}</tr></table></div>"
        "<details><summary>P1.2</summary><pre style='overflow-x:auto'>{}</pre></details></article></body></html>")


@needs_chromium
def test_probe_passes_a_page_that_fits(tmp_path):
    page = tmp_path / "narrow.html"
    page.write_text(NARROW.format("a long criterion " * 200))
    viewport, problems = layout_problems(page)
    assert viewport <= VIEWPORT[0] and problems == []


@needs_chromium
def test_probe_finds_a_table_and_a_closed_line_that_scroll_sideways(tmp_path):
    page = tmp_path / "wide.html"
    page.write_text(WIDE.format("<td>criterion_without_spaces_</td>" * 60, "x" * 600))
    _, problems = layout_problems(page)
    assert any(p.startswith("scrolls sideways: div") for p in problems), problems
    assert any(p.startswith("scrolls sideways: pre") for p in problems), problems  # inside a closed <details>


# ------------------------------------------------------------------ the built book
@needs_chromium
@pytest.mark.skipif(not ENABLED, reason="checks the built book: run `make bookcheck` after `make book`")
def test_ledger_page_fits_a_1280_pixel_viewport():
    page = HTML_ROOT / "book" / "ledger.html"
    if not page.is_file():
        pytest.skip(f"the book is not built ({page} does not exist): run `make book` first")
    viewport, problems = layout_problems(page)
    assert viewport > VIEWPORT[0] * 0.9, f"chromium laid the page out {viewport} px wide, not ~{VIEWPORT[0]}"
    assert not problems, "book/ledger at 1280 px:\n  " + "\n  ".join(problems)
