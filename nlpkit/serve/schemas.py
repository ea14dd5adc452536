"""The request and response bodies of the server: the OpenAPI schema is built from these."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

def predict_body(max_chars: int, max_inputs: int) -> Any:
    """The body of ``POST /predict``: one input (a text, or named fields such as
    ``{"text": ...}``, ``{"question": ..., "context": ...}``, ``{"tokens": [...]}``), or a
    list of inputs, where an input may also be a list of texts (a pair, a question and its
    context, pre-split words). Which names and shapes a task reads is the task's: one it
    cannot read is a 422 with its message. The limits are in the schema for clients to see;
    the server checks them itself, to answer with the limit's name."""
    text = Annotated[str, WithJsonSchema({"type": "string", "pattern": r"\S", "maxLength": max_chars})]
    fields = dict[str, Union[text, list[text]]]  # type: ignore[valid-type]
    listed = Annotated[list[Union[text, list[text], fields]],  # type: ignore[valid-type]
                       Field(json_schema_extra={"maxItems": max_inputs})]
    return Union[text, fields, listed]  # type: ignore[valid-type]


NonBlank = Annotated[str, WithJsonSchema({"type": "string", "pattern": r"\S"})]
"""A text with something to read (the server refuses empty ones with 422)."""

def task_body(shapes: list[dict[str, Any]], max_chars: int, max_inputs: int) -> dict[str, Any]:
    """The schema of ``POST /predict``'s body for a task that says the shapes of its inputs
    (``Task.input_schemas``): one input, or a list of inputs. A list at the top is always a
    list of inputs, so an input shaped as a list (a pair) is one only inside it."""
    limited = [_limited(shape, max_chars) for shape in shapes]
    alone = [shape for shape in limited if shape.get("type") != "array"]
    return {"title": "Body", "anyOf": [*alone, {"type": "array", "items": {"anyOf": limited}, "maxItems": max_inputs}]}


def embed_texts(max_chars: int, max_inputs: int) -> dict[str, Any]:
    """The schema of ``POST /embed``'s ``texts``, with the server's limits."""
    text = _limited(TEXT_SCHEMA, max_chars)
    return {"anyOf": [text, {"type": "array", "items": text, "maxItems": max_inputs}],
            "description": "One text or a list of texts."}


TEXT_SCHEMA = {"type": "string"}


def _limited(schema: Any, max_chars: int, name: str = "") -> Any:
    """``schema`` with every text given the server's rules: something to read, at most
    ``max_chars`` characters (an ``id`` is not read, only passed back)."""
    if isinstance(schema, list):
        return [_limited(item, max_chars) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") == "string" and name != "id":
        return {**schema, "pattern": r"\S", "maxLength": max_chars}
    limited = {key: _limited(value, max_chars) for key, value in schema.items() if key != "properties"}
    if "properties" in schema:
        limited["properties"] = {key: _limited(value, max_chars, key) for key, value in schema["properties"].items()}
    return limited


PREDICT_EXAMPLES = {
    "one text": {"value": "a gripping , beautifully acted film"},
    "named fields": {"value": {"text": "a gripping , beautifully acted film"}},
    "a list": {"value": ["a great film", "the plot is a mess"]},
}


class EmbedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: Union[NonBlank, list[NonBlank]] = Field(description="One text or a list of texts.")
    pooling: Literal["mean", "cls"] = Field("mean", description="mean: over real tokens; cls: the [CLS] state.")
    normalize: bool = Field(False, description="Scale each vector to unit length.")


class EmbedResponse(BaseModel):
    embeddings: list[list[float]] = Field(description="One vector per text, in order.")
    dimension: int
    pooling: Literal["mean", "cls"]
    normalized: bool


class Health(BaseModel):
    status: Literal["ready", "loading", "failed"]
    error: str | None = None


class Info(BaseModel):
    task: str
    labels: list[str] | None
    encoder: str | None
    format: Literal["run", "hf", "onnx"]
    engine: Literal["torch", "onnxruntime"]
    precision: str
    max_length: int
    embedding_dimension: int | None = Field(description="None where /embed is not served (an ONNX export).")
    nlpkit_version: str
    plugin: str | None
    plugin_version: str | None
    limits: dict[str, Any]
    pid: int = Field(description="The answering process: with --workers N, which worker answered.")
    threads: int = Field(description="torch's threads for this worker's forward passes.")


class ErrorBody(BaseModel):
    error: str
    limit: str | None = Field(None, description="The setting whose limit the request passed, if that is why.")
    errors: list[dict[str, Any]] | None = Field(None, description="Where the body does not match the schema.")
