import json

import pytest

from nlpkit.errors import DataError
from nlpkit_ner.readers import ReadOptions, read


def options(**kwargs) -> ReadOptions:
    return ReadOptions(**kwargs)


def test_conll_docstart_whitespace_lines_and_columns(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(
        "-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\n   \n"
        "Peter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\n\t\nJohn NNP I-NP I-PER\nPaul NNP I-NP B-PER\n",
        encoding="utf-8",
    )
    result = read(path, options())
    assert result.scheme == "iob1"
    assert [e.words for e in result.examples] == [["EU", "rejects"], ["Peter", "Blackburn"], ["John", "Paul"]]
    assert result.examples[2].tags == ["B-PER", "B-PER"]  # adjacent IOB1 entities, as IOB2
    assert result.examples[2].source_tags == ["I-PER", "B-PER"]
    assert result.examples[1].where == f"{path}:6"
    # Choose other columns: the chunk tag as the "tag" (a scheme check still applies).
    chunks = read(path, options(tag_column=2, scheme="iob1"))
    assert chunks.examples[0].tags == ["B-NP", "B-VP"]


def test_conll_tab_separator_keeps_spaces_in_words(tmp_path):
    path = tmp_path / "a.tsv"
    path.write_text("New York\tB-LOC\nis\tO\n", encoding="utf-8")
    result = read(path, options(separator="\t"))
    assert result.examples[0].words == ["New York", "is"]


@pytest.mark.parametrize(
    "content, line, text",
    [
        ("EU NNP I-NP I-ORG\nrejects VBZ O\n", 2, "expected 4 columns (as on line 1), found 3"),
        ("EU B-ORG\nrejects O\n\nBritain O\nto I-LOC\n", 5, "I-LOC after O is invalid in IOB2"),
        ("EU B-ORG\nrejects X-FOO\n", 2, "neither O nor PREFIX-TYPE"),
    ],
)
def test_malformed_conll_names_file_and_line(tmp_path, content, line, text):
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        read(path, options(scheme="iob2" if "I-LOC" in content else "auto"))
    assert info.value.path == str(path) and info.value.line == line
    assert text in str(info.value)


def test_a_line_short_of_a_column_is_reported_even_on_the_first_line(tmp_path):
    # The columns a line must have are those of most lines, not of the first: a first
    # line without its tag is the line reported, and skipping drops only its sentence.
    path = tmp_path / "bad.txt"
    path.write_text("EU\nrejects O\nGerman B-MISC\n\nPeter B-PER\nBlackburn I-PER\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read(path, options())
    assert str(info.value) == f"{path}:1: expected 2 columns (as on line 2), found 1: 'EU'"
    assert [e.words for e in read(path, options(on_error="skip")).examples] == [["Peter", "Blackburn"]]


def test_a_file_without_a_tag_column(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("EU\nrejects\n\nPeter\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read(path, options())
    assert str(info.value) == (
        f"{path}:1: expected a word and its tag on each line, found 1 column (NER data files hold gold tags)"
    )
    two = tmp_path / "two.txt"
    two.write_text("EU B-ORG\nrejects O\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read(two, options(token_column=1))
    assert str(info.value) == (
        f"{two}:1: data.token_column = 1 and data.tag_column = -1 are the same column of the 2: "
        "set them to the word's and the tag's"
    )


def test_predict_inputs_of_the_wrong_shape_say_what_was_given():
    from nlpkit.errors import NlpkitError
    from nlpkit.plugins import get_task
    from nlpkit.recipe import build_recipe
    from nlpkit.task import TaskSettings

    task = get_task("ner")(TaskSettings.of(build_recipe({"task": "ner", "data": {"labels": ["PER"]}}, check_paths=False)))
    with pytest.raises(NlpkitError) as info:
        task.examples_from_inputs([{"tokns": ["EU", "rejects"]}])
    assert str(info.value) == "task ner predicts from an object with a 'text' or 'tokens' key; keys: 'tokns'"
    with pytest.raises(NlpkitError) as info:
        task.examples_from_inputs([{"tokens": ["EU", 3]}])
    assert str(info.value) == (
        "task ner predicts from texts, lists of words, or {'text'|'tokens': ...} objects; got {'tokens': ['EU', 3]}"
    )


def test_tag_outside_the_label_set(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("EU B-ORG\nrejects O\nBonn B-CITY\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.txt:3: tag B-CITY: entity type CITY is not in data.labels"):
        read(path, options(labels=["ORG", "PER", "LOC"]))


def test_on_error_skip_drops_and_counts_bad_sentences(tmp_path, caplog):
    path = tmp_path / "mixed.txt"
    path.write_text(
        "EU B-ORG\nrejects O\n\n"  # good
        "Bonn\n\n"  # a column missing
        "to O\nI-LOC I-LOC B\n\n"  # too many columns
        "the O\nI-LOC after\n\n"  # fine as words, but the tag "after" is invalid
        "Paris B-LOC\n",  # good
        encoding="utf-8",
    )
    result = read(path, options(on_error="skip"))
    assert [e.words for e in result.examples] == [["EU", "rejects"], ["Paris"]]
    assert [line for line, _ in result.skipped] == [4, 7, 10]
    assert "skipped 3 malformed rows" in caplog.text


def test_jsonl_tokens_and_text_entities(tmp_path):
    path = tmp_path / "a.jsonl"
    text = "Angela  Merkel visited Paris-based Zoë's café."
    rows = [
        {"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]},
        {
            "text": text,
            "entities": [
                {"start": 0, "end": 14, "label": "PER"},
                {"start": 23, "end": 28, "label": "LOC"},
                {"start": 35, "end": 38, "label": "PER"},
            ],
        },
        {"tokens": ["no", "tags"]},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n", encoding="utf-8")
    result = read(path, options())
    first, second, third = result.examples
    assert first.tags == ["B-ORG", "O"]
    assert second.words == ["Angela", "Merkel", "visited", "Paris", "-", "based", "Zoë", "'", "s", "café", "."]
    assert second.tags == ["B-PER", "I-PER", "O", "B-LOC", "O", "O", "B-PER", "O", "O", "O", "O"]
    assert [text[s:e] for s, e in second.offsets] == second.words
    assert third.tags is None


@pytest.mark.parametrize(
    "row, text",
    [
        ('{"tokens": ["a", "b"], "tags": ["O"]}', "2 tokens but 1 tags"),
        ('{"tokens": ["a"], "tags": [3]}', "tag names"),
        ('{"text": "abc", "entities": [{"start": 1, "end": 9, "label": "X"}]}', "offsets must satisfy"),
        ('{"text": "a b", "entities": [{"start": 0, "end": 3, "label": "X"}, {"start": 2, "end": 3, "label": "Y"}]}', "overlap"),
        ('{"tokens": ["a"]', "not valid JSON"),
        ('["a"]', "expected a JSON object"),
    ],
)
def test_malformed_jsonl(tmp_path, row, text):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"tokens": ["ok"], "tags": ["O"]}\n' + row + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.jsonl:2: ") as info:
        read(path, options())
    assert text in str(info.value)


def test_recipe_validates_with_the_task_options():
    from nlpkit.errors import RecipeError
    from nlpkit.recipe import load_recipe

    recipe = load_recipe({"task": "ner", "data": {"scheme": "bioes", "on_error": "skip"}, "head": {"crf": True}})
    assert recipe.data.scheme == "bioes" and recipe.head.crf
    with pytest.raises(RecipeError, match="did you mean data.tag_column"):
        load_recipe({"task": "ner", "data": {"tag_colum": 3}})
    with pytest.raises(RecipeError, match="entity types"):
        load_recipe({"task": "ner", "data": {"labels": ["B-PER"]}})


def test_conll2003_recipe_is_valid():
    from pathlib import Path

    from nlpkit.recipe import load_recipe

    from .conftest import CONLL_TRAIN

    if not CONLL_TRAIN.exists():
        pytest.skip(f"CoNLL-2003 not found at {CONLL_TRAIN}")
    repo = Path(__file__).resolve().parents[2]
    recipe = load_recipe(repo / "recipes" / "conll2003.yaml", [f"data.train={CONLL_TRAIN}",
                         f"data.validation={CONLL_TRAIN.parent / 'eng.testa'}", f"data.test={CONLL_TRAIN.parent / 'eng.testb'}"])
    assert recipe.task == "ner" and recipe.data.tag_column == 3
