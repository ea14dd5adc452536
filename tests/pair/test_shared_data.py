"""The sentiment, pair and NSP recipes on the real data sets in ../shared/data."""

from __future__ import annotations

from collections import Counter

import pytest


from ..conftest import needs_data, recipe_splits

pytestmark = pytest.mark.usefixtures("shared_data_env")  # each test skips without its data set (needs_data)


@needs_data("mrpc")
def test_mrpc_holds_out_a_seeded_tenth_and_reads_the_test_file() -> None:
    _, task, splits = recipe_splits("mrpc.yaml")
    train, validation, test = (splits[s].examples for s in ("train", "validation", "test"))
    assert (len(train) + len(validation), len(validation), len(test)) == (4076, 408, 1725)
    assert Counter(e.label for e in test) == {"1": 1147, "0": 578}
    assert train[0].text_a.startswith("Amrozi accused") and train[0].label == "1"  # the BOM did not eat the header
    _, _, again = recipe_splits("mrpc.yaml")
    assert [e.text_a for e in again["validation"].examples] == [e.text_a for e in validation]


@pytest.mark.slow  # reads a whole data set: seconds
@needs_data("sst2")
def test_sst2_sentiment_maps_labels_to_words() -> None:
    _, task, splits = recipe_splits("sst2-sentiment.yaml", "data.limit_train=200")
    task.setup(splits["train"].examples)
    assert task.labels == ["negative", "positive"]


@needs_data("wikitext2")
def test_nsp_wikitext_holds_out_whole_articles() -> None:
    _, task, splits = recipe_splits("nsp-wikitext.yaml")
    train, validation = splits["train"].examples, splits["validation"].examples
    assert len({e.id for e in validation}) == 6
    assert not {e.id for e in train} & {e.id for e in validation}
    counts = Counter(e.label for e in validation)
    assert 0.4 < counts["is_next"] / len(validation) < 0.6


@pytest.mark.slow  # reads a whole data set: seconds
@needs_data("chnsenticorp")
def test_chnsenticorp_unknown_rate_is_under_one_percent_with_the_vocabulary_fix() -> None:
    """64% of ChnSentiCorp's tokens are [UNK] for the default encoder; the recipe's
    encoder.extend_vocab brings that under 1% on its training file."""
    from nlpkit.encoder import load_tokenizer
    from nlpkit.vocab import extend_vocabulary, unk_rate

    recipe, task, splits = recipe_splits("chnsenticorp.yaml")
    assert recipe.encoder.extend_vocab
    texts = list(task.texts(splits["train"].examples))
    assert len(texts) == 9600 and len(splits["validation"].examples) == 1200
    tokenizer = load_tokenizer(recipe.encoder)
    assert unk_rate(tokenizer, texts[:500]) > 0.5  # the problem
    extend_vocabulary(tokenizer, texts, recipe.encoder.extend_vocab_min_count)
    assert unk_rate(tokenizer, texts) < 0.01  # the fix
