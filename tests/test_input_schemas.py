"""Each built-in task's ``input_schemas()`` describes what its ``examples_from_inputs``
reads: an instance of every shape is read, and the server's schema is built from them."""

from __future__ import annotations

from typing import Any

import pytest

from nlpkit.plugins import get_task
from nlpkit.recipe import build_recipe
from nlpkit.task import TaskSettings


def instance(schema: dict[str, Any]) -> Any:
    """The smallest value of a shape: texts "word", lists at their minimum length, objects
    with their required keys."""
    kind = schema.get("type")
    if kind == "string":
        return "word"
    if kind == "array":
        return [instance(schema["items"]) for _ in range(max(1, schema.get("minItems", 1)))]
    return {key: instance(schema["properties"][key]) for key in schema["required"]}


@pytest.mark.parametrize("name", ["classification", "sentiment", "pair", "nsp", "ner", "qa"])
def test_every_shape_a_task_declares_is_read(name: str, tmp_path: Any) -> None:
    recipe = build_recipe({"task": name, "data": {"train": str(tmp_path / "train")}}, "<test>", check_paths=False)
    task = get_task(name)(TaskSettings.of(recipe))
    shapes = task.input_schemas()
    assert shapes, f"task {name} does not say what it reads"
    examples = task.examples_from_inputs([instance(shape) for shape in shapes])
    assert len(examples) == len(shapes)
    for shape in shapes:
        if shape.get("type") == "object":
            assert shape["additionalProperties"] is False and set(shape["required"]) <= set(shape["properties"])


def test_the_server_schema_takes_a_pair_only_inside_a_list() -> None:
    from nlpkit.serve.schemas import task_body
    from nlpkit.task import text_list, text_object

    body = task_body([text_list(2, 2), text_object(["text_a", "text_b"])], max_chars=100, max_inputs=8)
    alone, listed = body["anyOf"]
    assert alone["type"] == "object" and alone["properties"]["text_a"]["maxLength"] == 100
    assert alone["properties"]["id"] == {"type": "string"}  # an id is passed back, not read
    assert listed["maxItems"] == 8 and listed["items"]["anyOf"][0]["items"]["pattern"] == r"\S"
