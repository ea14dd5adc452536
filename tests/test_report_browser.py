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
    assert headings == ["Token attributions", "Head view", "Attention"]


def test_the_head_view_draws_the_chosen_layer_heads_and_token(run_dir: Path, tmp_path: Path) -> None:
    """The page's own script: a line per head and weight of at least 0.02, for the layer
    and heads chosen; pointing at a token leaves its lines alone."""
    pytest.importorskip("captum", reason="captum comes with nlpkit[explain]")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright comes with nlpkit[test]")
    import nlpkit
    from nlpkit.explain import explain, write_explanation

    explanation = explain(nlpkit.load(run_dir), "a great fun movie")
    page_path = tmp_path / "explain.html"
    write_explanation(explanation, page_path)

    def expected(layer: int, heads: list[int], token: int | None = None) -> int:
        return sum(round(w, 3) >= 0.02 for h in heads for q, row in enumerate(explanation.attentions[layer][h])
                   if token is None or q == token for w in row)

    every = list(range(len(explanation.attentions[0])))
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(page_path.as_uri(), wait_until="load")
        count = lambda: page.locator("#hv-svg line").count()  # noqa: E731
        assert count() == expected(0, every) > 0
        page.select_option("#hv-layer", "1")
        assert count() == expected(1, every)
        page.uncheck("#hv-heads input[data-head='0']")
        assert count() == expected(1, every[1:])
        page.locator("#hv-svg text").nth(2).hover()  # labels come in (left, right) pairs: token 1, left
        assert count() == expected(1, every[1:], token=1)
        page.mouse.move(0, 0)
        assert count() == expected(1, every[1:])
        browser.close()
    assert errors == []
