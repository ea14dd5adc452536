"""Dynamic padding and length-grouped sampling."""

from __future__ import annotations

import pytest
import torch

from nlpkit.batching import LengthGroupedSampler, pad_features, split_rows


def test_pad_features_pads_per_key_to_the_longest_row() -> None:
    batch = pad_features(
        [
            {"input_ids": [2, 5, 3], "attention_mask": [1, 1, 1], "labels": [0, 1, 0], "example_id": 0, "text": "x"},
            {"input_ids": [2, 3], "attention_mask": [1, 1], "labels": [1, 0], "example_id": 1, "text": "y"},
        ],
        pad_id=9,
    )
    assert batch["input_ids"].tolist() == [[2, 5, 3], [2, 3, 9]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"].tolist() == [[0, 1, 0], [1, 0, -100]]
    assert batch["example_id"].tolist() == [0, 1]
    assert "text" not in batch


def test_split_rows_cuts_sequence_outputs_to_each_rows_length() -> None:
    batch = {"attention_mask": torch.tensor([[1, 1, 1], [1, 1, 0]])}
    rows = split_rows({"start": torch.arange(6.0).view(2, 3)}, batch)
    assert [r["start"].tolist() for r in rows] == [[0.0, 1.0, 2.0], [3.0, 4.0]]


def test_length_grouped_batches_hold_similar_lengths_and_change_per_epoch() -> None:
    lengths = [(i * 37) % 100 + 1 for i in range(400)]
    sampler = LengthGroupedSampler(lengths, batch_size=8, seed=1, group=10)
    first = list(sampler)
    assert sorted(first) == list(range(400))  # every row exactly once
    batches = [first[i : i + 8] for i in range(0, 400, 8)]
    spread = sum(max(lengths[j] for j in b) - min(lengths[j] for j in b) for b in batches) / len(batches)
    assert spread < 10  # random batches would spread over ~75 tokens
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first
    sampler.set_epoch(0)
    assert list(sampler) == first  # seeded: the same epoch gives the same order


def test_loader_batches_stay_length_grouped_when_rows_do_not_fill_the_last_group() -> None:
    # 1,003 rows leave a 3-row batch at the end of the last mega-batch. The DataLoader
    # cuts the flat order into batches of 8, so that short batch must come last or it
    # shifts every later batch across two length groups.
    lengths = [(i * 37) % 100 + 1 for i in range(1003)]
    sampler = LengthGroupedSampler(lengths, batch_size=8, seed=3, group=10)
    order = list(sampler)
    assert sorted(order) == list(range(1003))
    loader_batches = [order[i : i + 8] for i in range(0, len(order), 8)]
    assert len(loader_batches[-1]) == 3
    padded = sum(len(b) * max(lengths[j] for j in b) for b in loader_batches)
    assert padded < 1.1 * sum(lengths)  # misaligned batches pad ~1.3x here
    assert max(lengths[j] for j in loader_batches[0]) == max(lengths)  # longest first


def test_pad_to_a_multiple_rounds_the_width_up_with_each_keys_fill() -> None:
    rows = [{"input_ids": [5, 6, 7], "attention_mask": [1, 1, 1], "labels": [1, 2, 3]},
            {"input_ids": [5], "attention_mask": [1], "labels": [4]}]
    batch = pad_features(rows, pad_id=9, multiple_of=8)
    assert batch["input_ids"].shape == (2, 8)
    assert batch["input_ids"][0].tolist() == [5, 6, 7] + [9] * 5
    assert batch["attention_mask"][1].tolist() == [1] + [0] * 7
    assert batch["labels"][1].tolist() == [4] + [-100] * 7
    assert pad_features(rows, multiple_of=3)["input_ids"].shape == (2, 3)  # already a multiple


def test_shuffled_order_changes_each_epoch_and_is_the_same_for_the_same_seed_and_epoch() -> None:
    from nlpkit.batching import EpochShuffleSampler

    sampler = EpochShuffleSampler(50, seed=3)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    assert sorted(first) == sorted(second) == list(range(50)) and first != second
    again = EpochShuffleSampler(50, seed=3)
    again.set_epoch(1)
    assert list(again) == second


def test_a_loader_restored_mid_epoch_goes_on_with_the_next_batch_of_that_epochs_order() -> None:
    from nlpkit.batching import LengthGroupedSampler, ResumableLoader

    def loader() -> ResumableLoader:
        sampler = LengthGroupedSampler([i % 7 for i in range(40)], batch_size=4, seed=0)
        return ResumableLoader(list(range(40)), batch_size=4, sampler=sampler, collate_fn=list)

    straight = loader()
    straight.sampler.set_epoch(2)
    epoch = list(straight)
    interrupted = loader()
    interrupted.sampler.set_epoch(2)
    batches = iter(interrupted)
    seen = [next(batches) for _ in range(3)]
    state = interrupted.state_dict()
    assert state == {"epoch": 2, "batches": 3} and seen == epoch[:3]

    restored = loader()  # a new process: epoch 0 until the state says otherwise
    restored.load_state_dict(state)
    assert list(restored) == epoch[3:]
    # A state saved once the epoch was done resumes at the start of the next epoch.
    restored.load_state_dict({"epoch": 2, "batches": 10})
    straight.sampler.set_epoch(3)
    assert list(restored) == list(straight)


def _order_with_lists(lengths: list[int], batch_size: int, seed: int, group: int, epoch: int) -> list[int]:
    """The sampler's order written with Python lists and ``sorted``: what the recorded
    runs trained on, so the numpy sampler must give exactly this."""
    gen = torch.Generator().manual_seed(seed + epoch)
    perm = torch.randperm(len(lengths), generator=gen).tolist()
    batches = []
    for start in range(0, len(perm), batch_size * group):
        chunk = sorted(perm[start : start + batch_size * group], key=lambda i: -lengths[i])
        batches.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
    tail = batches.pop() if batches and len(batches[-1]) < batch_size else None
    batches = [batches[b] for b in torch.randperm(len(batches), generator=gen).tolist()]
    longest = max(range(len(batches)), key=lambda b: lengths[batches[b][0]])
    batches[0], batches[longest] = batches[longest], batches[0]
    return [i for b in batches + ([tail] if tail else []) for i in b]


@pytest.mark.parametrize("rows, batch_size, group", [(1003, 8, 10), (4096, 32, 50), (70, 16, 2)])
def test_the_order_is_that_of_a_stable_sort_with_ties_kept_in_shuffled_order(rows: int, batch_size: int, group: int) -> None:
    lengths = [(i * 7919) % 23 + 1 for i in range(rows)]  # many ties
    sampler = LengthGroupedSampler(lengths, batch_size=batch_size, seed=5, group=group)
    for epoch in (0, 1, 2):
        sampler.set_epoch(epoch)
        assert list(sampler) == _order_with_lists(lengths, batch_size, 5, group, epoch)
    unshuffled = LengthGroupedSampler(lengths, batch_size=batch_size, seed=5, shuffle=False)
    assert list(unshuffled) == sorted(range(rows), key=lambda i: -lengths[i])
    assert all(type(i) is int for i in unshuffled)  # plain ints for the DataLoader
