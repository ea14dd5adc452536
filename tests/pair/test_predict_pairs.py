"""A table of sentence pairs given to ``nlpkit predict`` for a pair model (MRPC's shape:
a byte-order mark, a header, five columns) is read as pairs, a row per pair."""

from __future__ import annotations

import json
from pathlib import Path

from nlpkit.inputs import read_input
from nlpkit.predict_file import predict_input
from nlpkit.testing import untrained_predictor
from tests.pair.conftest import write_pairs_tsv


def test_an_mrpc_table_is_predicted_per_pair(pair_recipe: dict, tmp_path: Path, capsys) -> None:
    predictor = untrained_predictor(pair_recipe)
    table = write_pairs_tsv(tmp_path / "msr_paraphrase_test.txt", 6, seed=3)
    rows = [json.loads(line) for line in predict_input(predictor, read_input(table))]
    cells = [line.split("\t") for line in table.read_text(encoding="utf-8-sig").splitlines()[1:]]
    assert [(r["text_a"], r["text_b"], r["gold"]) for r in rows] == [(c[3], c[4], c[0]) for c in cells]
    assert all(r["label"] in {"0", "1"} for r in rows)
    assert "TSV rows with a header, the task's data format: 6 examples" in capsys.readouterr().err
