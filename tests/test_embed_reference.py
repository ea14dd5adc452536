"""nlpkit's embeddings of the default encoder equal sentence-transformers' (the model's
reference implementation: mean pooling, then unit length) on real SST-2 sentences."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from tests.conftest import SHARED_DATA, needs_data

pytestmark = [pytest.mark.slow, needs_data("sst2")]


def test_minilm_embeddings_equal_sentence_transformers() -> None:
    sentence_transformers = pytest.importorskip("sentence_transformers")
    import nlpkit
    from nlpkit.encoders import minilm_path

    with (SHARED_DATA / "sst2" / "dev.tsv").open(encoding="utf-8") as handle:
        texts = [row["sentence"] for row in csv.DictReader(handle, delimiter="\t")][:300]
    texts.append(" ".join(texts[:40]))  # past max_seq_length (256 tokens): both cut it at the same place
    ours = nlpkit.embedder("minilm").embed(texts, batch_size=32, normalize=True)
    reference = sentence_transformers.SentenceTransformer(minilm_path(), device="cpu")
    theirs = reference.encode(texts, batch_size=32, convert_to_numpy=True)  # its pipeline ends in Normalize
    cosines = (ours * theirs).sum(axis=1) / np.linalg.norm(theirs, axis=1)
    assert cosines.min() >= 0.99999, f"lowest cosine {cosines.min():.7f} at {texts[int(cosines.argmin())]!r:.80}"
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)
