"""The request and response bodies of the server: the OpenAPI schema is built from these."""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

Fields = dict[str, Union[str, list[str]]]
"""An input given by name: ``{"text": ...}``, ``{"question": ..., "context": ...}``,
``{"tokens": [...]}`` (which names a task reads: ``GET /info``)."""
OneInput = Union[str, Fields]
"""A text, or named fields."""
ListedInput = Union[str, list[str], Fields]
"""In a list, an input may also be a list of texts: a pair, a question and its context,
or pre-split words."""
PredictBody = Union[OneInput, list[ListedInput]]

PREDICT_EXAMPLES = {
    "one text": {"value": "a gripping , beautifully acted film"},
    "named fields": {"value": {"text": "a gripping , beautifully acted film"}},
    "a list": {"value": ["a great film", "the plot is a mess"]},
    "a pair": {"value": [["The cat sat.", "A cat was sitting."]]},
}


class EmbedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: Union[str, list[str]] = Field(description="One text or a list of texts.")
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


class ErrorBody(BaseModel):
    error: str
    limit: str | None = Field(None, description="The setting whose limit the request passed, if that is why.")
    errors: list[dict[str, Any]] | None = Field(None, description="Where the body does not match the schema.")
