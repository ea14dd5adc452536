import itertools

import pytest
import torch

from nlpkit_ner import schemes
from nlpkit_ner.crf import CRF
from nlpkit_ner.heads import TokenClassifier


def brute_force(crf, emissions, length, first=True, last=True):
    trans, start, end = crf._scores(torch.tensor([first]), torch.tensor([last]), 1)
    paths = list(itertools.product(range(crf.num_tags), repeat=length))

    def score(path):
        s = start[0, path[0]] + emissions[0, path[0]]
        for t in range(1, length):
            s = s + trans[path[t - 1], path[t]] + emissions[t, path[t]]
        return s + end[0, path[-1]]

    scores = torch.stack([score(p) for p in paths])
    return torch.logsumexp(scores, 0), paths, scores


@pytest.fixture
def crf():
    tags = schemes.tag_set(["PER", "LOC"], "iobes")
    crf = CRF(len(tags), *schemes.allowed_transitions(tags, "iobes"))
    torch.manual_seed(0)
    with torch.no_grad():
        for p in (crf.transitions, crf.start, crf.end):
            p.normal_()
    return crf


def test_nll_and_viterbi_match_brute_force(crf):
    emissions = torch.randn(2, 4, crf.num_tags)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.bool)
    gold = torch.tensor([[1, 2, 3, 0], [4, 0, 4, 0]])  # B I E O ; S O S
    expected = 0.0
    best_paths = []
    for row, length in ((0, 4), (1, 3)):
        log_z, paths, scores = brute_force(crf, emissions[row], length)
        path = tuple(gold[row, :length].tolist())
        expected += float((log_z - scores[paths.index(path)]).detach())
        best_paths.append(list(paths[int(scores.argmax())]))
    assert float(crf.nll(emissions, gold, mask).detach()) == pytest.approx(expected, rel=1e-5)
    decoded = crf.viterbi(emissions, mask)
    assert decoded[0].tolist() == best_paths[0] and decoded[1, :3].tolist() == best_paths[1]


def test_viterbi_never_returns_an_invalid_sequence(crf):
    tags = schemes.tag_set(["PER", "LOC"], "iobes")
    torch.manual_seed(1)
    emissions = torch.randn(64, 7, crf.num_tags) * 5
    for path in crf.viterbi(emissions, torch.ones(64, 7, dtype=torch.bool)).tolist():
        schemes.validate([tags[i] for i in path], "iobes")


def test_windows_in_mid_sentence_may_open_inside_an_entity(crf):
    emissions = torch.full((1, 2, crf.num_tags), -5.0)
    emissions[0, :, 2] = 5.0  # I-PER everywhere
    mask = torch.ones(1, 2, dtype=torch.bool)
    assert crf.viterbi(emissions, mask, torch.tensor([0]), torch.tensor([0])).tolist() == [[2, 2]]
    assert crf.viterbi(emissions, mask).tolist() != [[2, 2]]


def test_head_runs_the_crf_over_first_pieces_only():
    tags = schemes.tag_set(["PER"], "iob2")
    head = TokenClassifier(8, len(tags), 0.0, CRF(len(tags), *schemes.allowed_transitions(tags, "iob2")))
    hidden = torch.randn(2, 6, 8)
    batch = {
        "label_mask": torch.tensor([[0, 1, 0, 1, 1, 0], [0, 1, 1, 0, -100, -100]]),
        "labels": torch.tensor([[-100, 1, -100, 2, 0, -100], [-100, 0, 1, -100, -100, -100]]),
    }
    head.train()
    loss = head(hidden, batch)["crf_nll"]
    loss.backward()
    assert torch.isfinite(loss) and head.crf.transitions.grad is not None
    head.eval()
    out = head(hidden, batch)["tags"]
    assert ((out >= 0) == (batch["label_mask"] > 0)).all()
