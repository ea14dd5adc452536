"""``nlpkit export --format onnx``: a run's task model (encoder and head) as one ONNX
graph, and the model that runs it with onnxruntime in nlpkit's predictor.

The graph is traced with torch's TorchScript-based exporter at opset :data:`OPSET`, with
dynamic batch and sequence axes. It exports a BERT in seconds where the dynamo exporter
took 20 times as long here, and onnxruntime's transformer optimizer recognises the
attention it writes (docs/export-onnx.md). The graph holds what the head's
``graph_forward`` computes when the head has one, else its ``forward``; the head's
``finish`` (a CRF's Viterbi search, which is no fixed graph) runs after it in Python,
from the head's weights saved beside the graph. A head that reads more of the batch than
the encoder's inputs (pre-training's masked positions) has no ONNX export.

The export checks itself before it counts as done: on batches of other shapes than the
traced one, the graph's outputs must match the torch model's within :data:`TOLERANCE`
(an int8 graph's difference is measured and recorded, not bounded).
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import onnxruntime as ort  # here, not lazily: nlpkit.export says "install nlpkit[onnx]" without it

from nlpkit.errors import NlpkitError, RunDirError
from nlpkit.rundir import ExportDir, ModelDir
from nlpkit.task import ENCODER_INPUTS

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from nlpkit.predictor import Predictor
    from nlpkit.task import Task

log = logging.getLogger("nlpkit")

OPSET = 17
TOLERANCE = 1e-4
"""The largest difference allowed between the fp32 graph's outputs and the torch model's."""
QUANTIZE = ("int8",)
TENSOR_OUTPUT = "logits"
"""The graph output's name when the head returns one tensor (a dict's keys name the others)."""
OUTPUT_KIND = "nlpkit.output"
FINISH = "nlpkit.finish"
"""Keys of the graph's metadata: whether the head returns a "tensor" or a "dict", and
whether its ``finish`` runs after the graph ("1")."""
CHECK_SHAPES = ((1, 5), (4, 37))
"""(rows, tokens) of the batches the export is checked on; the trace uses (3, 12)."""


def export_onnx(predictor: "Predictor", out: str | os.PathLike[str], *, quantize: str | None = None) -> dict[str, Any]:
    """Write the ONNX graph of ``predictor``'s model (a run's, as ``Predictor.load``
    gives it) into the export directory ``out``, with the tokenizer and the head's
    weights (which its ``finish`` reads, if it has one); ``quantize="int8"``:
    onnxruntime's dynamic int8 quantization of the weights of its matrix products.
    Returns what the export's metadata records. :class:`NlpkitError` for a head that
    cannot be exported or a graph that does not compute what the model does."""
    from safetensors.torch import save_model

    if quantize is not None and quantize not in QUANTIZE:
        raise NlpkitError(f"unknown quantization {quantize!r}; choose {', '.join(QUANTIZE)}")
    export = ExportDir(Path(out))
    export.path.mkdir(parents=True, exist_ok=True)
    names = input_names(predictor.tokenizer)
    checks = [sample_batch(predictor.model.encoder.config, names, rows, tokens, seed=n)
              for n, (rows, tokens) in enumerate(CHECK_SHAPES)]
    expected = [_flat(graph_outputs(predictor, batch))[1] for batch in checks]
    finish = hasattr(predictor.model.head, "finish")
    with tempfile.TemporaryDirectory(prefix=".onnx-", dir=export.path) as work:
        graph, kind, fused = _build(predictor, names, Path(work), quantize)
        _save(graph, export.onnx_model, {OUTPUT_KIND: kind, FINISH: "1" if finish else "0"})
    predictor.tokenizer.save_pretrained(export.path)
    export.saved.path.mkdir(parents=True, exist_ok=True)
    save_model(predictor.model.head, str(export.saved.head_file))
    difference = _check(export, checks, expected, bounded=quantize is None)
    return {"labels": _labels(predictor), "opset": OPSET, "inputs": names, "outputs": _output_names(export),
            "fused": fused, "quantize": quantize, "finish_in_python": finish, "max_abs_difference": difference}


def _labels(predictor: "Predictor") -> list[str] | None:
    """The output labels by index, as the task's transformers mapping names them (None
    for a task that has none)."""
    try:
        spec = predictor.task.hf_head(predictor.model.encoder, predictor.model.head)
    except NlpkitError:
        return None
    id2label = spec.config.get("id2label")
    return [str(id2label[i]) for i in sorted(id2label)] if id2label else None


def input_names(tokenizer: Any) -> list[str]:
    """The graph's inputs: the encoder inputs that the tokenizer produces."""
    produced = set(getattr(tokenizer, "model_input_names", ENCODER_INPUTS))
    return [name for name in ENCODER_INPUTS if name in produced or name == "input_ids"]


def sample_batch(config: Any, names: Sequence[str], rows: int, tokens: int, seed: int) -> dict[str, "torch.Tensor"]:
    """Random token ids with the first row whole and the others padded (so that both the
    padding mask and a batch without padding are exercised), segment ids 0 then 1."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    mask = torch.ones(rows, tokens, dtype=torch.long)
    for row in range(1, rows):
        mask[row, max(1, tokens - row * tokens // rows):] = 0
    types = torch.zeros(rows, tokens, dtype=torch.long)
    if getattr(config, "type_vocab_size", 1) > 1:
        types[:, tokens // 2:] = 1
    batch = {"input_ids": torch.randint(config.vocab_size, (rows, tokens), generator=gen),
             "attention_mask": mask, "token_type_ids": types}
    return {name: batch[name] for name in names}


def graph_outputs(predictor: "Predictor", batch: dict[str, "torch.Tensor"]) -> Any:
    """What the graph computes, in torch: the encoder, then the head's ``graph_forward``
    (or ``forward``), on a batch of the encoder's inputs only."""
    import torch

    model, task = predictor.model, predictor.task
    step = getattr(model.head, "graph_forward", model.head)
    try:
        with torch.inference_mode():
            return step(model.encoder(**batch, return_dict=True), batch)
    except KeyError as exc:
        raise NlpkitError(
            f"task {task.name}: its head reads {exc.args[0]!r} from the batch, and an ONNX graph takes only the "
            f"encoder's inputs ({', '.join(batch)}); this task has no ONNX export (--format hf exports it)"
        ) from None


def _flat(output: Any) -> tuple[str, list["torch.Tensor"], list[str]]:
    """(kind, tensors, names) of a head's output: one tensor, or a dict of tensors."""
    if isinstance(output, Mapping):
        return "dict", list(output.values()), list(output)
    return "tensor", [output], [TENSOR_OUTPUT]


def _build(predictor: "Predictor", names: list[str], work: Path, quantize: str | None) -> tuple[Path, str, list[str]]:
    """Trace, fuse and (optionally) quantize the graph in ``work``: (path, kind, fused ops)."""
    traced = work / "traced.onnx"
    kind = _trace(predictor, names, traced)
    graph, fused = _fuse(traced, predictor.model.encoder.config, work / "fused.onnx")
    if quantize == "int8":
        graph = _quantize(graph, work / "int8.onnx")
    return graph, kind, fused


def _trace(predictor: "Predictor", names: list[str], path: Path) -> str:
    import torch

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = predictor.model

        def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return tuple(_flat(graph_outputs(predictor, dict(zip(names, inputs))))[1])

    config = predictor.model.encoder.config
    sample = sample_batch(config, names, 3, 12, seed=7)
    kind, tensors, outputs = _flat(graph_outputs(predictor, sample))
    longer = _flat(graph_outputs(predictor, sample_batch(config, names, 3, 13, seed=7)))[1]
    axes: dict[str, dict[int, str]] = {name: {0: "batch", 1: "sequence"} for name in names}
    for name, tensor, other in zip(outputs, tensors, longer):
        # An output's second axis is the sequence's if it grows with the input.
        axes[name] = {0: "batch", **({1: "sequence"} if tensor.dim() > 1 and other.shape[1] != tensor.shape[1] else {})}
    encoder = predictor.model.encoder
    attention = encoder.config._attn_implementation
    # Eager attention: the plain matmul-softmax-matmul that onnxruntime fuses into one op.
    encoder.set_attn_implementation("eager")
    try:
        with warnings.catch_warnings():
            # The tracer's warnings (Python values frozen into the graph): the check on
            # other shapes after the export is what shows the graph general.
            warnings.simplefilter("ignore")
            torch.onnx.export(Graph().eval(), tuple(sample.values()), str(path), dynamo=False, opset_version=OPSET,
                              input_names=names, output_names=outputs, dynamic_axes=axes)
    finally:
        encoder.set_attn_implementation(attention)
    return kind


def _fuse(path: Path, config: Any, out: Path) -> tuple[Path, list[str]]:
    """onnxruntime's transformer optimizer: attention, layer norms and GELU as single
    fused operators. A graph it cannot optimise is kept as traced."""
    from onnxruntime.transformers.optimizer import optimize_model

    try:
        with _quiet():
            model = optimize_model(str(path), model_type="bert", num_heads=config.num_attention_heads,
                                   hidden_size=config.hidden_size, opt_level=0)
    except Exception as exc:  # the optimizer's pattern matching on a graph it does not know
        log.info("onnx: the graph is kept unfused (%s: %s)", type(exc).__name__, exc)
        return path, []
    fused = sorted(op for op, count in model.get_fused_operator_statistics().items() if count)
    model.save_model_to_file(str(out))
    return out, fused


def _quantize(path: Path, out: Path) -> Path:
    """Dynamic int8: weights of the matrix products stored as int8 (per output channel),
    activations quantized per batch as the graph runs."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet():
        # The fused operators are onnxruntime's own, which ONNX's shape inference cannot
        # type: every tensor of this graph that it leaves untyped is a float.
        quantize_dynamic(str(path), str(out), weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"DefaultTensorType": TensorProto.FLOAT})
    return out


@contextmanager
def _quiet() -> Iterator[None]:
    """onnxruntime's tools log each fusion and their heuristics' doubts (a tiny test
    model's vocabulary smaller than its positions) as warnings; the check of the graph
    against the model is what counts, so they are held back while they run."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def _save(path: Path, out: Path, metadata: dict[str, str]) -> None:
    import onnx

    model = onnx.load(str(path))
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(out))


def _output_names(export: ExportDir) -> list[str]:
    return [output.name for output in session(export.onnx_model).get_outputs()]


def _check(export: ExportDir, batches: list[dict[str, "torch.Tensor"]], expected: list[list["torch.Tensor"]],
           *, bounded: bool) -> float:
    """The largest difference between the graph's outputs and the torch model's on
    ``batches``; :class:`NlpkitError` past :data:`TOLERANCE` when ``bounded``."""
    runner = session(export.onnx_model)
    names = [i.name for i in runner.get_inputs()]
    difference = 0.0
    for batch, reference in zip(batches, expected):
        got = runner.run(None, {name: batch[name].numpy() for name in names})
        for ours, theirs in zip(got, reference):
            if ours.shape != tuple(theirs.shape):
                raise NlpkitError(f"the ONNX graph gives shape {ours.shape} where the model gives {tuple(theirs.shape)}")
            difference = max(difference, float(abs(ours - theirs.float().numpy()).max(initial=0.0)))
    if bounded and difference > TOLERANCE:
        raise NlpkitError(
            f"the ONNX graph's outputs differ from the model's by up to {difference:.2g} (more than {TOLERANCE:g}); "
            "the export is not written"
        )
    log.info("onnx: the graph's outputs are within %.2g of the model's", difference)
    return difference


# -- running an export --------------------------------------------------------------------


def session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    """An onnxruntime session on the CPU with every graph optimization, one thread per
    core this process may use (``threads`` to choose), operators run one at a time (a
    BERT's graph is a chain: a second pool of threads would only compete for the
    cores). :class:`RunDirError` naming the file if it is missing or not a graph."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or _cores()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its warnings are about its own optimizations
    if not path.is_file():
        raise RunDirError(f"{path} is missing: the export has no ONNX graph; export the run again")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunDirError(f"{path} is not a loadable ONNX graph ({first}); export the run again") from None


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class OnnxModel:
    """Stands in for nlpkit's torch model in the predictor: ``model(batch)`` runs the
    graph on the batch's encoder inputs and returns the head's output as torch tensors
    (then the head's ``finish``, if it has one)."""

    def __init__(self, runner: ort.InferenceSession, finish: Any = None) -> None:
        meta = runner.get_modelmeta().custom_metadata_map
        self.session = runner
        self.inputs = [i.name for i in runner.get_inputs()]
        self.outputs = [o.name for o in runner.get_outputs()]
        self.kind = meta.get(OUTPUT_KIND, "dict")
        self.finish = finish

    def __call__(self, batch: Mapping[str, "torch.Tensor"]) -> Any:
        import torch

        ids = batch["input_ids"]
        feeds = {name: _input(batch, name, ids).cpu().numpy() for name in self.inputs}
        values = [torch.from_numpy(v).to(ids.device) for v in self.session.run(self.outputs, feeds)]
        output: Any = values[0] if self.kind == "tensor" else dict(zip(self.outputs, values))
        return output if self.finish is None else self.finish(output, batch)

    def eval(self) -> "OnnxModel":
        return self

    def to(self, device: Any) -> "OnnxModel":
        return self  # onnxruntime runs on the CPU; outputs go back to the batch's device


def _input(batch: Mapping[str, "torch.Tensor"], name: str, ids: "torch.Tensor") -> "torch.Tensor":
    """A graph input that a task's features leave out takes the encoder's default for it
    (segment ids 0, attention everywhere), as the torch model would."""
    import torch

    if name in batch:
        return batch[name]
    return torch.zeros_like(ids) if name == "token_type_ids" else torch.ones_like(ids)


def load_model(export_dir: ExportDir, task: "Task") -> OnnxModel:
    """The model of an ONNX export for the predictor, with its head's ``finish`` when the
    graph's metadata says it runs after the graph."""
    runner = session(export_dir.onnx_model)
    if runner.get_modelmeta().custom_metadata_map.get(FINISH) != "1":
        return OnnxModel(runner)
    return OnnxModel(runner, _finishing_head(export_dir.saved, task).finish)


def _finishing_head(saved: ModelDir, task: "Task") -> Any:
    """The task's head with its saved weights, built on an encoder without storage (only
    its configuration is read): what ``finish`` needs, at no cost of encoder weights."""
    import torch
    from transformers import AutoConfig, AutoModel

    from nlpkit.model import load_head

    try:
        config = AutoConfig.from_pretrained(saved.path)
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{saved.path}: the encoder's configuration cannot be read ({exc}); export the run again") from None
    with torch.device("meta"):
        encoder = AutoModel.from_config(config)
    head = task.build_head(encoder)
    load_head(head, saved.head_file, task.name)
    return head.eval()
