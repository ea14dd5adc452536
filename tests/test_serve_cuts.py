"""Where the batcher cuts a batch into forward passes: an extra pass only where it saves
more padding than a pass costs."""

from __future__ import annotations

from tests.test_serve_batcher import items

from nlpkit.serve.batcher import forwards


def lengths(groups: list[list[object]]) -> list[list[int]]:
    return [[item.length for item in group] for group in groups]  # type: ignore[attr-defined]


def test_a_cut_where_it_saves_more_padding_than_a_pass_costs() -> None:
    # One pass: 6 x 100 + 200 = 800; two: 3 x 100 + 200 + 3 x 20 + 200 = 760.
    assert lengths(forwards(items([20, 100, 18, 95, 15, 90]), 32, pass_cost=200)) == [[100, 95, 90], [20, 18, 15]]
    # A dearer pass is not worth the 180 characters of padding it saves.
    assert lengths(forwards(items([20, 100, 18, 95, 15, 90]), 32, pass_cost=300)) == [[100, 95, 90, 20, 18, 15]]


def test_no_cut_for_a_small_saving() -> None:
    # Half as long, but two passes would save 21 characters of padding for a pass's cost.
    assert lengths(forwards(items([40, 19]), 32, pass_cost=200)) == [[40, 19]]


def test_every_item_lands_in_exactly_one_pass_in_order_of_length() -> None:
    given = [7, 300, 45, 45, 12, 160, 3, 88, 88, 1, 250, 60]
    groups = forwards(items(given), max_batch_size=4, pass_cost=50)
    flat = [n for group in lengths(groups) for n in group]
    assert flat == sorted(given, reverse=True) and all(len(group) <= 4 for group in groups)
