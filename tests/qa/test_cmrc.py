"""CMRC 2018: its file format (answers without offsets, found in the passage) and its
character-level scoring, against cases computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlpkit.errors import DataError, RecipeError
from nlpkit.recipe import load_recipe
from nlpkit.task import TaskSettings
from nlpkit_qa.cmrc_metric import Cmrc2018, cmrc2018, exact_match_cmrc, f1_cmrc, segments
from nlpkit_qa.readers import Answer, QAExample, read_qa
from nlpkit_qa.task import QATask, is_mostly_chinese

PASSAGE = "上海是中国最大的城市，人口超过两千万，也是重要的港口。北京是中国的首都。许多游客喜欢去上海看外滩。"
DATA = Path(__file__).parents[2] / "recipes" / "cmrc2018.yaml"


def write_cmrc(path: Path, qas: list[dict], context: str = PASSAGE) -> Path:
    passage = {"context_id": "P1", "title": "城市", "context_text": context, "qas": qas}
    path.write_text(json.dumps([passage], ensure_ascii=False), encoding="utf-8")
    return path


# -- scoring ------------------------------------------------------------------------
def test_segments_are_chinese_characters_and_words_of_the_other_runs() -> None:
    assert segments("2010年Apple发布iPhone 4，售价1,000美元。") == [
        "2010", "年", "apple", "发", "布", "iphone", "4", "，", "售", "价", "1,000", "美", "元", "。"
    ]
    assert segments("北京，上海。", drop_punctuation=True) == ["北", "京", "上", "海"]


@pytest.mark.parametrize(
    ("prediction", "gold", "f1"),
    [
        ("北京大学", "北京大学的校长", 8 / 11),  # common run 4: precision 4/4, recall 4/7
        ("北京上海", "北京和上海", 4 / 9),  # longest common *contiguous* run is 2: P 2/4, R 2/5
        ("海上", "上海", 0.5),  # a bag of characters would score 1
        ("北京，上海", "北京上海", 1.0),  # punctuation removed
        ("iPhone 4", "iphone 4手机", 2 / 3),  # words of Latin runs, lower-cased: P 2/2, R 2/4
        ("广州", "北京", 0.0),
        ("", "北京", 0.0),
    ],
)
def test_f1_is_over_the_longest_common_run_of_segments(prediction: str, gold: str, f1: float) -> None:
    assert f1_cmrc(prediction, gold) == pytest.approx(f1)


def test_exact_match_ignores_punctuation_and_case_only() -> None:
    assert exact_match_cmrc("北京。", "北京") == 1.0
    assert exact_match_cmrc(" IPHONE ", "iphone") == 1.0
    assert exact_match_cmrc("北京市", "北京") == 0.0
    assert exact_match_cmrc("北京…", "北京") == 0.0  # the script's "……" never matches one character


def test_totals_are_percent_over_all_questions_with_the_best_gold() -> None:
    references = {"a": ["北京大学的校长", "北京大学"], "b": ["上海"], "c": ["广州"]}
    # a: exact with its second gold; b: F1 0.5 ("海上"); c: no prediction scores 0.
    scores = cmrc2018({"a": "北京大学", "b": "海上"}, references)
    assert scores["exact_match"] == pytest.approx(100 / 3)
    assert scores["f1"] == pytest.approx(100 * 1.5 / 3)
    assert scores["average"] == pytest.approx((100 / 3 + 50) / 2)


def test_the_metric_reports_squad_figures_beside_cmrc() -> None:
    predictions = [{"id": "a", "prediction_text": "北京大学"}]
    references = [{"id": "a", "answers": {"text": ["北京大学的校长"], "answer_start": [0]}}]
    scores = Cmrc2018().compute(predictions=predictions, references=references)
    assert scores["f1"] == pytest.approx(800 / 11)
    # SQuAD splits at spaces: the unsegmented answer is one word, and F1 is all or nothing.
    assert scores["squad_f1"] == 0.0 and scores["squad_exact_match"] == 0.0


# -- reading ------------------------------------------------------------------------
def test_answers_are_found_in_the_passage_by_the_stated_rule(tmp_path: Path) -> None:
    path = write_cmrc(tmp_path / "c.json", [
        {"query_id": "once", "query_text": "中国的首都是哪里？", "answers": ["北京"]},
        # "上海" occurs twice; the second is beside "游客喜欢去" and "看外滩", as in the question.
        {"query_id": "near", "query_text": "游客喜欢去哪里看外滩？", "answers": ["上海"]},
        # No question character near either: a tie, the first occurrence.
        {"query_id": "tie", "query_text": "请回答", "answers": ["上海"]},
        {"query_id": "spaces", "query_text": "首都？", "answers": [" 北京 "]},
    ])
    examples, report = read_qa(path)
    starts = {e.id: [(a.text, a.start) for a in e.answers] for e in examples}
    capital, second = PASSAGE.index("北京"), PASSAGE.rindex("上海")
    assert starts == {
        "once": [("北京", capital)], "near": [("上海", second)], "tie": [("上海", 0)], "spaces": [("北京", capital)]
    }
    assert report.located.counts == {"once": 2, "several": 2, "stripped": 1}
    assert examples[0].question == "中国的首都是哪里？" and examples[0].context == PASSAGE


def test_an_answer_not_in_its_passage_is_a_bad_row_named_by_its_path(tmp_path: Path) -> None:
    path = write_cmrc(tmp_path / "c.json", [
        {"query_id": "ok", "query_text": "首都？", "answers": ["北京"]},
        {"query_id": "bad", "query_text": "哪里？", "answers": ["广州"]},
        {"query_id": "empty", "query_text": " ", "answers": ["北京"]},
    ])
    with pytest.raises(DataError, match=r"c.json: \[0\].qas\[1\]: the answer '广州' does not occur in its passage"):
        read_qa(path)
    examples, report = read_qa(path, on_error="skip")
    assert [e.id for e in examples] == ["ok"]
    assert report.skipped == 2 and report.located.counts["missing"] == 1
    assert "[0].qas[2]: expected a question object with a non-empty 'query_text' string" in report.problems[1]


def test_a_list_that_is_not_cmrc_is_refused_with_both_shapes_named(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps([{"text": "?"}]))
    with pytest.raises(DataError, match="got a list, and not a CMRC 2018 list of passages with 'context_text'"):
        read_qa(path)


# -- choosing the metric ----------------------------------------------------------------
def task(**data: object) -> QATask:
    return QATask(TaskSettings.of(load_recipe({"task": "qa", "encoder": {"max_length": 128}, "data": data})))


def test_auto_scores_chinese_contexts_as_cmrc_and_others_as_squad() -> None:
    assert is_mostly_chinese(["北京是中国的首都 (Beijing)"]) and not is_mostly_chinese(["Paris is 巴黎"])
    chinese, english = task(), task()
    chinese.setup([QAExample("a", "首都？", PASSAGE, [Answer("北京", 0)])])
    english.setup([QAExample("b", "capital?", "Paris is the capital.", [Answer("Paris", 0)])])
    assert (chinese.scoring, english.scoring) == ("cmrc2018", "squad")
    assert type(chinese.metric()).__name__ == "Cmrc2018" and type(english.metric()).__name__ == "SquadV1"
    restored = task(metric="squad")
    restored.load_state_dict(chinese.state_dict())  # a saved run scores as it was trained
    assert restored.scoring == "cmrc2018"


def test_metric_names_and_the_v2_conflict() -> None:
    assert {"f1", "squad_f1", "average"} <= task().metric_names()
    assert task(metric="squad").metric_names() == {"exact_match", "f1"}
    with pytest.raises(RecipeError, match="metric cmrc2018 .* cannot go with squad_v2"):
        task(metric="cmrc2018", squad_v2=True)


def test_the_shipped_recipe_validates(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NLPKIT_DATA", str(tmp_path))
    (tmp_path / "cmrc2018").mkdir()
    write_cmrc(tmp_path / "cmrc2018" / "trial.json", [{"query_id": "q", "query_text": "首都？", "answers": ["北京"]}])
    recipe = load_recipe(DATA)
    assert (recipe.data.metric, recipe.data.test_split, recipe.encoder.extend_vocab) == ("cmrc2018", 0.2, True)
