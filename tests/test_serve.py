"""``nlpkit serve``'s application on a free loopback port (uvicorn in a thread): every
endpoint answers what ``nlpkit.load(...).predict/embed`` computes, concurrent requests are
batched, and hostile requests get a 4xx with a JSON error, never a 5xx."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

import nlpkit  # noqa: E402
from tests.serve_helpers import serving  # noqa: E402

TEXTS = ["a great fun movie", "awful and dull", "i loved it , truly a good and fun story", "bad plot , bad actors"]


@pytest.fixture(scope="module")
def server(tiny_classifier_run: Path) -> Iterator[tuple[str, Any]]:
    # A long wait for company, so that concurrent requests surely meet in one batch;
    # small limits, so that the hostile requests stay small.
    with serving(tiny_classifier_run, max_wait_ms=150, max_batch_size=8, max_inputs=64, max_chars=2_000,
                 max_body_bytes=100_000) as running:
        yield running


@pytest.fixture(scope="module")
def predictor(tiny_classifier_run: Path) -> Any:
    return nlpkit.load(tiny_classifier_run)


def post(url: str, path: str, body: Any, **kwargs: Any) -> Any:
    return httpx.post(f"{url}{path}", json=body, timeout=30, **kwargs)


def test_health_and_info(server: tuple[str, Any], predictor: Any) -> None:
    url, _ = server
    assert httpx.get(f"{url}/health").json() == {"status": "ready"}
    info = httpx.get(f"{url}/info").json()
    assert info["task"] == "classification" and info["labels"] == ["0", "1"]
    assert info["engine"] == "torch" and info["format"] == "run" and info["precision"] == "32"
    assert info["embedding_dimension"] == 32 and info["limits"]["max_inputs"] == 64


def same(got: dict[str, Any], want: dict[str, Any]) -> bool:
    """The same prediction (probabilities to 1e-6: a batch's padding moves the last bits)."""
    return got["label"] == want["label"] and got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-6)


def test_predict_answers_what_the_predictor_computes(server: tuple[str, Any], predictor: Any) -> None:
    url, _ = server
    one = post(url, "/predict", TEXTS[0])
    assert one.status_code == 200 and same(one.json(), predictor.predict(TEXTS[0]))
    assert same(post(url, "/predict", {"text": TEXTS[1]}).json(), predictor.predict(TEXTS[1]))
    many = post(url, "/predict", TEXTS).json()
    assert len(many) == len(TEXTS) and all(map(same, many, predictor.predict(TEXTS)))


def test_embed_answers_what_the_predictor_computes(server: tuple[str, Any], predictor: Any) -> None:
    url, _ = server
    answer = post(url, "/embed", {"texts": TEXTS, "normalize": True}).json()
    assert answer["dimension"] == 32 and answer["normalized"] is True and answer["pooling"] == "mean"
    np.testing.assert_allclose(answer["embeddings"], predictor.embed(TEXTS, normalize=True), atol=1e-5)
    cls = post(url, "/embed", {"texts": TEXTS[0], "pooling": "cls"}).json()["embeddings"]
    np.testing.assert_allclose(cls, [predictor.embed(TEXTS[0], pooling="cls")], atol=1e-5)


def batch_counts(url: str) -> tuple[float, float]:
    """(forward passes, inputs) of /predict so far, from /metrics."""
    text = httpx.get(f"{url}/metrics").text
    found = dict(re.findall(r'^nlpkit_batch_size_(count|sum)\{endpoint="predict"\} (\S+)$', text, re.M))
    return float(found.get("count", 0)), float(found.get("sum", 0))


def test_concurrent_requests_share_forward_passes(server: tuple[str, Any], predictor: Any) -> None:
    url, _ = server
    passes, inputs = batch_counts(url)
    texts = [TEXTS[i % len(TEXTS)] + " !" * i for i in range(12)]
    answers: dict[int, Any] = {}

    def ask(i: int) -> None:
        answers[i] = post(url, "/predict", texts[i]).json()

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, text in enumerate(texts):
        assert same(answers[i], predictor.predict(text))
    passes_after, inputs_after = batch_counts(url)
    assert inputs_after - inputs == len(texts)
    assert passes_after - passes < len(texts)  # some requests shared a forward pass
    assert passes_after - passes >= len(texts) / 8  # of at most --max-batch-size 8


def test_metrics_count_requests_by_path_and_status(server: tuple[str, Any]) -> None:
    url, _ = server
    post(url, "/predict", "")
    httpx.get(f"{url}/no/such/path")
    text = httpx.get(f"{url}/metrics").text
    assert re.search(r'^nlpkit_requests_total\{method="POST",path="/predict",status="422"\} [1-9]', text, re.M)
    assert re.search(r'^nlpkit_requests_total\{method="GET",path="other",status="404"\} [1-9]', text, re.M)
    assert re.search(r'^nlpkit_request_seconds_bucket\{le="\+Inf",path="/predict"\} [1-9]', text, re.M)


def test_the_openapi_schema_describes_the_endpoints(server: tuple[str, Any]) -> None:
    url, _ = server
    schema = httpx.get(f"{url}/openapi.json").json()
    assert {"/predict", "/embed", "/health", "/info"} <= set(schema["paths"])
    embed = schema["components"]["schemas"]["EmbedRequest"]
    assert embed["required"] == ["texts"] and embed["additionalProperties"] is False
    assert "422" in schema["paths"]["/predict"]["post"]["responses"]


@pytest.mark.parametrize(("make", "status", "limit"), [
    (lambda: {"content": json.dumps(["x" * 10] * 20_000)}, 413, "max_body_bytes"),        # oversized body
    (lambda: {"content": json.dumps(["ok"] * 10_000)}, 413, "max_inputs"),                 # 10,000 inputs
    (lambda: {"content": json.dumps(["ok"] * 65)}, 413, "max_inputs"),                     # too many inputs
    (lambda: {"content": json.dumps("x" * 1_000_000)}, 413, "max_body_bytes"),             # a 1 MB string
    (lambda: {"content": json.dumps("x" * 2_001)}, 422, "max_chars"),
    (lambda: {"content": json.dumps([{"text": "x" * 2_001}])}, 422, "max_chars"),
])
def test_limits_are_answered_with_the_limit_named(server: tuple[str, Any], make: Any, status: int, limit: str) -> None:
    url, _ = server
    answer = httpx.post(f"{url}/predict", headers={"content-type": "application/json"}, timeout=30, **make())
    assert answer.status_code == status
    assert answer.json()["limit"] == limit and "limit" in answer.json()["error"]


@pytest.mark.parametrize(("path", "body", "content_type", "status", "says"), [
    ("/predict", b'"\xff\xfe"', "application/json", 400, "not UTF-8"),
    ("/predict", b"a great film", "text/plain", 415, "expected a JSON body"),
    ("/predict", b"", None, 415, "expected a JSON body"),
    ("/predict", b'{"text": "a",', "application/json", 422, "not valid JSON"),
    ("/predict", b"3", "application/json", 422, "shape /predict takes"),
    ("/predict", b'{"text": 3}', "application/json", 422, "shape /predict takes"),
    ("/predict", b'{"txt": "a"}', "application/json", 422, "predicts from texts"),
    ("/predict", b'"   "', "application/json", 422, "empty or only whitespace"),
    ("/predict", b"[]", "application/json", 200, ""),
    ("/embed", b"{}", "application/json", 422, "texts"),
    ("/embed", b'{"texts": ["a", 3]}', "application/json", 422, '["body","texts","list[str]",1]'),
    ("/embed", b'{"texts": "a", "pool": "cls"}', "application/json", 422, "pool"),
    ("/embed", b'{"texts": "a", "pooling": "max"}', "application/json", 422, "pooling"),
    ("/embed", b'{"texts": [""]}', "application/json", 422, "texts[0] is empty"),
])
def test_malformed_requests_get_a_4xx_with_a_message(
    server: tuple[str, Any], path: str, body: bytes, content_type: str | None, status: int, says: str
) -> None:
    url, _ = server
    headers = {"content-type": content_type} if content_type else {}
    answer = httpx.post(f"{url}{path}", content=body, headers=headers, timeout=30)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    if status != 200:
        assert says in answer.text and "Traceback" not in answer.text


def test_the_command_checks_the_model_before_serving(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from nlpkit.cli import main

    done = CliRunner().invoke(main, ["serve", str(tmp_path), "--port", "1"])
    assert done.exit_code == 2 and "is not a finished nlpkit run directory" in done.stderr
    usage = CliRunner().invoke(main, ["serve", "--help"]).stdout
    assert "--host TEXT" in usage and "[default: 127.0.0.1]" in usage and "--max-batch-size" in usage


def test_the_schema_names_the_task_s_inputs_once_loaded(server: tuple[str, Any]) -> None:
    url, _ = server
    body = httpx.get(f"{url}/openapi.json").json()["paths"]["/predict"]["post"]["requestBody"]
    shapes = body["content"]["application/json"]["schema"]["anyOf"]
    text = {"type": "string", "pattern": r"\S", "maxLength": 2000}
    assert shapes[0] == text and shapes[1]["required"] == ["text"] and shapes[1]["additionalProperties"] is False
    assert shapes[2]["type"] == "array" and shapes[2]["maxItems"] == 64


def test_a_client_that_goes_away_does_not_poison_the_batch(server: tuple[str, Any], predictor: Any) -> None:
    url, app = server
    answers: list[Any] = []
    quitter = threading.Thread(target=lambda: _give_up(url))
    stayer = threading.Thread(target=lambda: answers.append(post(url, "/predict", TEXTS[2])))
    quitter.start()
    stayer.start()
    quitter.join()
    stayer.join()
    assert answers[0].status_code == 200
    assert same(answers[0].json(), predictor.predict(TEXTS[2]))
    assert post(url, "/predict", TEXTS[3]).status_code == 200  # and the server goes on


def _give_up(url: str) -> None:
    with pytest.raises(httpx.TimeoutException):  # gone before the batch's 150 ms wait is over
        httpx.post(f"{url}/predict", json=TEXTS[0], timeout=0.05)


@pytest.mark.parametrize("fmt", ["onnx", "hf"])
def test_an_export_is_served_as_nlpkit_load_runs_it(tiny_classifier_run: Path, tmp_path: Path, fmt: str) -> None:
    pytest.importorskip("onnxruntime")
    from nlpkit.export import export

    exported = export(tiny_classifier_run, tmp_path / fmt, format=fmt)
    predictor = nlpkit.load(exported)
    with serving(exported, max_wait_ms=1) as (url, _):
        info = httpx.get(f"{url}/info").json()
        assert (info["format"], info["engine"]) == ((fmt, "onnxruntime") if fmt == "onnx" else (fmt, "torch"))
        answers = post(url, "/predict", TEXTS).json()
        assert all(map(same, answers, predictor.predict(TEXTS)))
        embedded = post(url, "/embed", {"texts": TEXTS})
        paths = httpx.get(f"{url}/openapi.json").json()["paths"]
    if fmt == "onnx":  # the graph gives the task's outputs only: no /embed, and the schema says so
        assert embedded.status_code == 404 and "/embed" not in paths and info["embedding_dimension"] is None
    else:
        np.testing.assert_allclose(embedded.json()["embeddings"], predictor.embed(TEXTS), atol=1e-5)
