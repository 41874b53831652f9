"""The built book read in a real browser (Playwright driving Debian's chromium) at a laptop's
1280 px width: no table's content is wider than its container, every image has a real alt text
(not a file path), a caption and a link to its full-size file, no page shows a traceback, a warning or a machine path, no raw Markdown or
MyST markup shows in the prose (a backtick, a role, a directive fence), and every internal link
resolves (file and anchor). One test per chapter and check, so a failure names the page;
the book is built once per session (the ``smoke_book`` fixture of conftest.py)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.slow

#: Where Debian's package puts the browser (`apt-get install chromium`; never `playwright
#: install`, which downloads a browser).
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
WIDTH, HEIGHT = 1280, 900
CHAPTERS = ("intro", "methods", "data", "results", "reproducing", "lab", "instructor",
            "references", "appendix", "runs")
MACHINE_PATHS = ("/tmp/", "/work/", "/home/", "/root/", "/Users/")
#: Visible text that means a cell failed or a library complained.
BAD_TEXT = re.compile(r"Traceback \(most recent call last\)|\b\w*Warning\b:|\bWARNING\b|"
                      r"\bError\b: ")
#: Markup that reached the page as text: a backtick, a MyST/Sphinx role or a directive fence.
RAW_MARKUP = re.compile(r"`|\{(?:ref|numref|doc|cite|download|eq|glue:\w+)\}|:label:|"
                        r":(?:class|meth|func|mod|attr|py:\w+):|:::")
#: An alt text that is a file name or path rather than a description.
PATH_ALT = re.compile(r"[/\\]|\.(png|jpe?g|svg|gif|webp)$", re.IGNORECASE)


def chromium() -> str | None:
    found = os.environ.get("BUSMTL_CHROMIUM") or next(
        (c for c in CHROMIUM_CANDIDATES if Path(c).exists()), None)
    return found or shutil.which("chromium")


def _skip_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright)"
    if chromium() is None:
        return "no chromium browser installed (apt-get install -y chromium; .ci/run installs it)"
    return None


if _skip_reason():
    pytest.skip(_skip_reason(), allow_module_level=True)

#: One JavaScript pass over a page: what each check needs.
SCAN = """() => {
  if (!document.body) return null;   // a redirect page (index.html)
  const article = document.querySelector('article') || document.body;
  const describe = (el) => {
    const cap = el.querySelector('caption');
    const id = el.id || (el.closest('[id]') || {}).id || '';
    return (cap ? cap.innerText.trim().slice(0, 60) : '') + (id ? ' #' + id : '');
  };
  const tables = [...article.querySelectorAll('table')].map((t) => {
    const box = t.parentElement;
    return {what: describe(t), content: t.scrollWidth, container: box.clientWidth,
            column: article.clientWidth};
  });
  const images = [...article.querySelectorAll('img')].map((i) => {
    const link = i.closest('a[href]');
    const figure = i.closest('figure');
    const caption = figure ? figure.querySelector('figcaption') : null;
    return {src: i.getAttribute('src') || '', alt: (i.getAttribute('alt') || '').trim(),
            href: link ? link.getAttribute('href') : null,
            caption: caption ? caption.innerText.trim() : ''};
  });
  const links = [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href'));
  const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
  const prose = article.cloneNode(true);   // the text outside code and maths
  prose.querySelectorAll('pre, code, .highlight, script, style, mjx-container, .MathJax, math')
    .forEach((e) => e.remove());
  return {tables, images, links, ids, text: article.innerText, prose: prose.textContent};
}"""


def scan_book(html: Path) -> dict[str, list[tuple[Path, dict]]]:
    """Every page of the book built in ``html``, loaded in chromium at 1280 px without network:
    chapter -> [(page, what SCAN found)]."""
    from playwright.sync_api import sync_playwright

    pages = sorted(p for p in html.rglob("*.html") if not {"_static", "_sources"} & set(p.parts)
                   and p.name not in ("genindex.html", "search.html"))
    out: dict[str, list[tuple[Path, dict]]] = {c: [] for c in CHAPTERS}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        # offline: a page that asks for the network shows it here, as a failed request
        page.route(re.compile(r"^https?://"), lambda route: route.abort())
        for path in pages:
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_timeout(200)   # MathJax and the theme's layout scripts
            rel = path.relative_to(html).as_posix()
            chapter = "runs" if "/runs/" in rel or "_generated" in rel else Path(rel).stem
            if chapter == "index":
                chapter = "intro"
            found = page.evaluate(SCAN)
            redirected = page.url != path.as_uri()   # index.html: the intro is scanned itself
            if chapter in out and found is not None and not redirected:
                out[chapter].append((path, found))
        browser.close()
    return out


@pytest.fixture(scope="module")
def scanned(smoke_book) -> dict[str, list[tuple[Path, dict]]]:
    """The smoke book's pages as chromium shows them."""
    out = scan_book(smoke_book[1])
    assert sum(map(len, out.values())) >= len(CHAPTERS)
    return out


def _pages(scanned, chapter):
    found = scanned[chapter]
    assert found, f"no page of {chapter} in the built book"
    return found


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_table_is_wider_than_its_container(scanned, chapter):
    wide = [f"{p.name}: table '{t['what']}' content {t['content']} px in {t['container']} px"
            for p, scan in _pages(scanned, chapter) for t in scan["tables"]
            if t["content"] > t["container"] + 1 or t["content"] > t["column"] + 1]
    assert not wide, "\n".join(wide)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_image_has_a_real_alt_text(scanned, chapter):
    bad = [f"{p.name}: <img src={i['src']!r} alt={i['alt']!r}>"
           for p, scan in _pages(scanned, chapter) for i in scan["images"]
           if not i["alt"] or PATH_ALT.search(i["alt"])]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_image_links_to_its_full_size_file(scanned, chapter):
    bad = [f"{p.name}: <img src={i['src']!r}> links to {i['href']!r}"
           for p, scan in _pages(scanned, chapter) for i in scan["images"]
           if not i["href"] or Path(unquote(urlsplit(i["href"]).path)).name
           != Path(unquote(urlsplit(i["src"]).path)).name]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_figure_has_a_caption(scanned, chapter):
    bad = [f"{p.name}: <img alt={i['alt'][:50]!r}> has no caption"
           for p, scan in _pages(scanned, chapter) for i in scan["images"] if not i["caption"]]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_page_shows_a_traceback_warning_or_machine_path(scanned, chapter, smoke_book):
    root, _ = smoke_book
    shown = []
    for page, scan in _pages(scanned, chapter):
        text = scan["text"]
        for bad in (str(root), *MACHINE_PATHS):
            if bad in text:
                shown.append(f"{page.name}: shows {bad!r}")
        shown += [f"{page.name}: shows {m.group(0)!r}" for m in BAD_TEXT.finditer(text)]
    assert not shown, "\n".join(shown)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_raw_markup_shows_in_the_prose(scanned, chapter):
    shown = [f"{page.name}: {scan['prose'][max(0, m.start() - 40):m.end() + 20]!r}"
             for page, scan in _pages(scanned, chapter) for m in RAW_MARKUP.finditer(scan["prose"])]
    assert not shown, "\n".join(shown)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_internal_link_resolves(scanned, chapter):
    ids_of: dict[Path, set[str]] = {p: set(scan["ids"]) for pages in scanned.values()
                                     for p, scan in pages}
    broken = []
    for page, scan in _pages(scanned, chapter):
        for href in scan["links"]:
            parts = urlsplit(href)
            if parts.scheme in ("http", "https", "mailto", "javascript") or href.startswith("//"):
                continue
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if parts.scheme == "file":
                target = Path(unquote(parts.path))
            if not target.exists():
                broken.append(f"{page.name}: {href} (no file)")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = ids_of.get(target)
                if ids is None:
                    ids = set(re.findall(r'\bid="([^"]+)"', target.read_text(encoding="utf-8")))
                    ids_of[target] = ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.name}: {href} (no anchor)")
    assert not broken, "\n".join(sorted(set(broken)))
