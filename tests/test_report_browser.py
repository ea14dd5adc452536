"""The report in a real browser (Debian's Chromium, driven by Playwright): it loads with
no console error and no request beyond the file itself, its images decode, and a
screenshot is written."""

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


def test_the_report_loads_offline_without_errors_and_is_screenshotted(tiny_encoder: Path, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright comes with nlpkit[test]")
    page_path = train_tiny_classifier(tmp_path, tiny_encoder) / "report.html"
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
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert [url for url in requests if not url.startswith("data:")] == [page_path.as_uri()]
    assert len(images) == 3 and all(complete and width > 0 for complete, width in images)
    assert headings[:3] == ["The run", "Metrics (validation)", "Learning curves"]
    assert "Confusion matrix" in headings and "Most confident mistakes" in headings
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
