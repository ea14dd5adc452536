"""The report and the explain page in a real browser (Debian's Chromium, driven by
Playwright): each loads with no console error and no request beyond the file itself, its
images decode, and a screenshot is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import train_tiny_classifier

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install -y chromium; .ci/run installs it)"),
]


def visit(page_path: Path, screenshot: Path) -> tuple[list[str], list[str], list[list], list[str]]:
    """Open ``page_path`` in Chromium: (console errors, requested URLs, [complete,
    naturalWidth] of each image, the h2 headings); a full-page screenshot written."""
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright comes with nlpkit[test]")
    errors: list[str] = []
    requests: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_path.as_uri(), wait_until="load")
        images = page.eval_on_selector_all("img", "images => images.map(i => [i.complete, i.naturalWidth])")
        headings = page.eval_on_selector_all("h2", "hs => hs.map(h => h.textContent)")
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return errors, [url for url in requests if not url.startswith("data:")], images, headings


@pytest.fixture(scope="module")
def run_dir(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_classifier(tmp_path_factory.mktemp("browser"), tiny_encoder, report=True)


def test_the_report_loads_offline_without_errors_and_is_screenshotted(run_dir: Path, tmp_path: Path) -> None:
    page_path = run_dir / "report.html"
    errors, requests, images, headings = visit(page_path, tmp_path / "report.png")
    assert errors == [] and requests == [page_path.as_uri()]
    assert len(images) == 3 and all(complete and width > 0 for complete, width in images)
    assert headings[:3] == ["The run", "Metrics (validation)", "Learning curves"]
    assert "Confusion matrix" in headings and "Most confident mistakes" in headings


def test_the_explain_page_loads_offline_without_errors_and_is_screenshotted(run_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("captum", reason="captum comes with nlpkit[explain]")
    import nlpkit
    from nlpkit.explain import explain, write_explanation

    page_path = tmp_path / "explain.html"
    write_explanation(explain(nlpkit.load(run_dir), "a great fun movie"), page_path)
    errors, requests, images, headings = visit(page_path, tmp_path / "explain.png")
    assert errors == [] and requests == [page_path.as_uri()]
    assert len(images) == 2 and all(complete and width > 0 for complete, width in images)
    assert headings == ["Token attributions", "Attention"]
