"""The report page: the run's facts and the analysis its predictions allow, rendered by
a jinja2 template into one self-contained HTML file (inline CSS, plots as data URIs)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from nlpkit.curves import draw, run_curves
from nlpkit.monitor import Monitor
from nlpkit.report import answers, classes, documents, scales, spans
from nlpkit.report.facts import RunFacts
from nlpkit.report.figures import (
    attention_maps, data_uri, perplexity_spread, predicted_against_gold, reliability, score_bars,
)

if TYPE_CHECKING:  # pragma: no cover
    import jinja2

    from nlpkit.explain import Explanation

AGREEMENT = 1e-6
"""How far a score recomputed from the predictions may be from metrics.json's."""


def _environment() -> "jinja2.Environment":
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("nlpkit.report", "templates"),
        autoescape=True,  # texts come from the data: never markup
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.globals["marked"] = spans.marked
    return env


def render(facts: RunFacts) -> str:
    return _environment().get_template("report.html.j2").render(**context(facts))


def render_explanation(explanation: "Explanation") -> str:
    """The page of ``nlpkit explain``: the input's tokens shaded by attribution, once per
    explained value, and the attention maps."""
    shades = []
    for target in explanation.targets:
        largest = max((abs(a) for a in target.attributions), default=0.0) or 1.0
        shades.append([a / largest for a in target.attributions])
    maps = [data_uri(attention_maps(layer, explanation.tokens, i)) for i, layer in enumerate(explanation.attentions)]
    return _environment().get_template("explain.html.j2").render(
        e=explanation, shades=shades, maps=maps, head_view=head_view_data(explanation), head_view_limit=HEAD_VIEW_TOKENS,
        summary=prediction_summary(explanation.prediction),
        generated=datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
    )


# Lines grow with the square of the tokens: beyond this the page would weigh megabytes.
HEAD_VIEW_TOKENS = 128


def head_view_data(explanation: "Explanation") -> dict[str, Any] | None:
    """What the page's interactive head view draws: the tokens and every layer's and
    head's attention (weights to 3 decimals); None for an input too long to draw."""
    if len(explanation.tokens) > HEAD_VIEW_TOKENS:
        return None
    rounded = [[[[round(w, 3) for w in row] for row in head] for head in layer] for layer in explanation.attentions]
    return {"tokens": list(explanation.tokens), "attentions": rounded}


def prediction_summary(prediction: dict[str, Any]) -> str:
    """One line for the page's title: the label and its probability, the entities, or
    the answer."""
    if "label" in prediction:
        probability = (prediction.get("probabilities") or {}).get(prediction["label"])
        return f"{prediction['label']}" + ("" if probability is None else f" ({probability:.3f})")
    if "entities" in prediction or "tags" in prediction:
        found = prediction.get("entities")
        if found is None:
            return f"{sum(tag != 'O' for tag in prediction['tags'])} tagged words"
        return ", ".join(f"{e['label']}: {e['text']}" for e in found) or "no entity"
    if "answer" in prediction:
        return repr(prediction["answer"]) if prediction["answer"] else "no answer"
    return ", ".join(f"{k} {v}" for k, v in prediction.items() if isinstance(v, (int, float, str)))


def context(facts: RunFacts) -> dict[str, Any]:
    """Everything the template shows, computed here (the template only lays it out)."""
    records = facts.records
    view: dict[str, Any] = {"kind": "metrics"}
    if classes.is_classification(records):
        view = classification_view(facts)
    elif spans.is_tagging(records):
        view = tagging_view(facts)
    elif answers.is_extractive_qa(records):
        view = {"kind": "qa", "qa": answers.analyse(records)}
    elif documents.is_pretraining(records):
        found = documents.analyse(records)
        view = {"kind": "documents", "result": found,
                "spread": data_uri(perplexity_spread(found.perplexities, found.perplexity)) if found.perplexities else None}
    elif (key := scales.value_key(records)) is not None:
        result = scales.analyse(records, key)
        view = {"kind": "scale", "result": result,
                "scatter": data_uri(predicted_against_gold(result.predicted, result.gold, key))}
    view["mismatches"] = mismatches(facts, view)
    return {
        "facts": facts, "name": facts.run.path.name, "view": view, "curves": curves_uri(facts),
        "generated": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
    }


def classification_view(facts: RunFacts) -> dict[str, Any]:
    result = classes.analyse(facts.records)
    biggest = max((max(row) for row in result.matrix), default=1) or 1
    shading = [[count / biggest for count in row] for row in result.matrix]
    bars = score_bars([s.label for s in result.scores], [(s.precision, s.recall, s.f1) for s in result.scores],
                      "per class")
    return {
        "kind": "classification", "result": result, "shading": shading,
        "bars": data_uri(bars), "reliability": data_uri(reliability(result.bins, result.ece)),
    }


def tagging_view(facts: RunFacts) -> dict[str, Any]:
    result = spans.analyse(facts.records)
    bars = score_bars(result.types, [(s.precision, s.recall, s.f1) for s in result.scores], "per entity type")
    predicted_types = sorted({t for row in result.confusion.values() for t in row} - {spans.NONE}) + [spans.NONE]
    gold_types = sorted(set(result.confusion) - {spans.NONE}) + ([spans.NONE] if spans.NONE in result.confusion else [])
    return {"kind": "tagging", "result": result, "bars": data_uri(bars), "kinds": spans.KINDS,
            "gold_types": gold_types, "predicted_types": predicted_types}


def mismatches(facts: RunFacts, view: dict[str, Any]) -> list[str]:
    """Scores recomputed from the predictions that differ from metrics.json's (a task
    scoring in another way, e.g. NER's strict mode): said on the page, not hidden."""
    ours: dict[str, float] = {}
    theirs: dict[str, Any] = {}
    if view["kind"] == "classification":
        ours = {f"per_class.{s.label}.f1": s.f1 for s in view["result"].scores}
        theirs = {f"per_class.{k}.f1": v.get("f1") for k, v in facts.metrics.get("per_class", {}).items()}
    elif view["kind"] == "tagging":
        ours = {f"per_type.{s.type}.f1": s.f1 for s in view["result"].scores} | {"f1": view["result"].micro.f1}
        theirs = {f"per_type.{k}.f1": v.get("f1") for k, v in facts.metrics.get("per_type", {}).items()}
        theirs["f1"] = facts.metrics.get("f1")
    elif view["kind"] == "documents":
        ours = {"perplexity": view["result"].perplexity, "mlm_accuracy": view["result"].mlm_accuracy}
        theirs = {name: facts.metrics.get(name) for name in ours}
    elif view["kind"] == "scale":
        ours = {name: getattr(view["result"], name) for name in ("pearson", "spearman", "mae", "mse")}
        theirs = {name: facts.metrics.get(name) for name in ours}
    elif view["kind"] == "qa":
        overall = view["qa"].overall
        ours = {"exact_match": overall.exact_match, "f1": overall.f1}
        theirs = {"exact_match": facts.metrics.get("exact_match"), "f1": facts.metrics.get("f1")}
    return [
        f"{key}: {value:.4f} from the predictions, {theirs[key]:.4f} in metrics.json"
        for key, value in ours.items()
        if isinstance(theirs.get(key), (int, float)) and abs(value - theirs[key]) > AGREEMENT
    ]


def curves_uri(facts: RunFacts) -> str | None:
    """The learning curves: the run's own ``learning_curve.png`` when it is as new as the
    logs it was drawn from (drawing them again costs as much as the rest of the report),
    else drawn now."""
    import base64

    plot, logs = facts.run.plot, facts.run.metrics_csv
    if plot.is_file() and (not logs.is_file() or plot.stat().st_mtime >= logs.stat().st_mtime):
        return "data:image/png;base64," + base64.b64encode(plot.read_bytes()).decode("ascii")
    curves = run_curves(facts.run)
    if curves.empty:
        return None
    monitor = facts.training.get("monitor")
    figure = draw(curves, Monitor(monitor["name"], monitor["mode"]) if monitor else None, title=facts.run.path.name)
    return data_uri(figure)
