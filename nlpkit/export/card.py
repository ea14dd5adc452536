"""The model card of an export: ``README.md`` in the Hub's model-card format (YAML front
matter, then Markdown) with the task, labels, data, recipe, metrics, intended use and how
to load the model. Written from the run directory alone: nothing is made up."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.rundir import ExportDir, RunDir

EVALUATED = ("validation", "test")
"""The splits of metrics.json that score the model (``training`` holds timings)."""
PIPELINE_TAGS = {
    "AutoModelForSequenceClassification": "text-classification",
    "AutoModelForTokenClassification": "token-classification",
    "AutoModelForQuestionAnswering": "question-answering",
    "AutoModelForPreTraining": "fill-mask",
    "AutoModelForMaskedLM": "fill-mask",
    "AutoModelForNextSentencePrediction": "text-classification",
}
"""The Hub's ``pipeline_tag`` of each auto class: how the Hub files the model."""


def write_card(stage: "ExportDir", run: "RunDir", meta: dict[str, Any], name: str) -> None:
    """Write ``stage``'s model card from the run's recipe and metrics and the export's
    metadata; ``name``: the export directory's final name, which the loading lines use."""
    import yaml

    recipe = yaml.safe_load(run.recipe.read_text(encoding="utf-8")) or {}
    metrics = json.loads(run.metrics.read_text(encoding="utf-8")) if run.metrics.is_file() else {}
    metrics = {split: scores for split, scores in metrics.items() if split in EVALUATED}
    front = front_matter(meta, recipe, metrics)
    body = [
        f"# {run.path.resolve().name}: nlpkit {meta['task']} model",
        describe(meta, recipe),
        "## How to load it",
        how_to_load(meta, name),
        "## Intended use and limitations",
        intended_use(meta),
        "## Training data",
        training_data(recipe),
        "## Evaluation",
        evaluation(metrics),
        "## Training recipe",
        "The resolved recipe the run was trained with (`nlpkit/recipe.yaml`):\n\n```yaml\n"
        + run.recipe.read_text(encoding="utf-8").rstrip() + "\n```",
    ]
    text = "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n\n" + "\n\n".join(body) + "\n"
    stage.card.write_text(text, encoding="utf-8")


def front_matter(meta: dict[str, Any], recipe: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    details = meta.get(meta["format"], {})
    front: dict[str, Any] = {"library_name": "transformers" if meta["format"] == "hf" else "onnx"}
    tag = PIPELINE_TAGS.get(details.get("auto_class", ""))
    if tag:
        front["pipeline_tag"] = tag
    front["tags"] = ["nlpkit", meta["task"], meta["format"]]
    encoder = (recipe.get("encoder") or {}).get("name")
    if encoder and "/" in str(encoder) and not str(encoder).startswith(("/", ".")):
        front["base_model"] = encoder  # a hub id; a local path or an alias names nothing on the Hub
    results = [
        {"task": {"type": tag or meta["task"]}, "dataset": {"name": split, "type": split},
         "metrics": [{"type": name, "value": value} for name, value in scores.items() if isinstance(value, (int, float))]}
        for split, scores in metrics.items() if isinstance(scores, dict)
    ]
    results = [r for r in results if r["metrics"]]
    if results:
        front["model-index"] = [{"name": f"nlpkit-{meta['task']}", "results": results}]
    return front


def describe(meta: dict[str, Any], recipe: dict[str, Any]) -> str:
    details = meta.get(meta["format"], {})
    encoder = (recipe.get("encoder") or {}).get("name", "?")
    lines = [
        f"A `{meta['task']}` model trained with nlpkit {meta['nlpkit']} "
        f"(task plugin `{meta.get('plugin')}` {meta.get('plugin_version')}) on the encoder `{encoder}`, "
        f"exported as `{meta['format']}`"
        + (f": transformers class `{details['architecture']}`." if details.get("architecture") else "."),
    ]
    if meta.get("labels"):
        shown = ", ".join(f"`{label}`" for label in meta["labels"][:50])
        more = f" and {len(meta['labels']) - 50} more" if len(meta["labels"]) > 50 else ""
        lines.append(f"\nLabels, in the order of the model's outputs (`config.id2label`): {shown}{more}.")
    for note in details.get("notes", []):
        lines.append(f"\n{note}")
    return "\n".join(lines)


def how_to_load(meta: dict[str, Any], name: str) -> str:
    details = meta.get(meta["format"], {})
    nlpkit_way = (f"With nlpkit, which runs the model exactly as it was evaluated (decoding included):\n\n"
                  f"```python\nimport nlpkit\n\nnlpkit.load(\"{name}\").predict(...)\n```")
    if meta["format"] != "hf":
        return nlpkit_way
    trust = ", trust_remote_code=True" if details.get("trust_remote_code") else ""
    auto = details["auto_class"]
    code = [f"from transformers import AutoTokenizer, {auto}", "",
            f"tokenizer = AutoTokenizer.from_pretrained(\"{name}\"{trust})",
            f"model = {auto}.from_pretrained(\"{name}\"{trust})"]
    if details.get("pipeline"):
        code += ["", "from transformers import pipeline", "",
                 f"pipe = pipeline(\"{details['pipeline']}\", model=\"{name}\"{trust})"]
    parts = ["```python\n" + "\n".join(code) + "\n```"]
    if details.get("also_loads"):
        parts.append("It loads with " + ", ".join(f"`{c}`" for c in details["also_loads"]) + " as well.")
    if details.get("trust_remote_code"):
        parts.append(
            "`trust_remote_code=True` runs `modeling_nlpkit.py`, shipped here: transformers has no class for this "
            "head's pooling, and without the flag transformers refuses to load the model rather than give it a "
            "random head."
        )
    return "\n\n".join([*parts, nlpkit_way])


def intended_use(meta: dict[str, Any]) -> str:
    return (
        f"Made for the `{meta['task']}` task on data like its training data (below); its quality elsewhere is "
        "unmeasured. The figures below are those of the run on its own evaluation splits. Inputs longer than the "
        "recipe's `encoder.max_length` tokens were cut in training; nlpkit cuts them the same way when it predicts."
    )


def training_data(recipe: dict[str, Any]) -> str:
    data = recipe.get("data") or {}
    rows = [f"- {split}: `{data[split]}`" for split in ("train", "validation", "test") if data.get(split)]
    limits = [f"`{key}: {data[key]}`" for key in ("limit_train", "limit_validation", "limit_test") if data.get(key)]
    if limits:
        rows.append("- limits: " + ", ".join(limits))
    return "\n".join(rows) if rows else "Not recorded."


def evaluation(metrics: dict[str, Any]) -> str:
    rows = [
        f"| {split} | {name} | {value:.4f} |"
        for split, scores in metrics.items() if isinstance(scores, dict)
        for name, value in scores.items() if isinstance(value, (int, float))
    ]
    if not rows:
        return "The run recorded no metrics."
    return "From the run's `metrics.json`:\n\n| split | metric | value |\n|---|---|---|\n" + "\n".join(rows)
