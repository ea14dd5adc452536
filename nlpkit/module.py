"""The one LightningModule for all tasks: training, validation with the task's metric."""

from __future__ import annotations

import logging
import math
from typing import Any, Sequence

import pytorch_lightning as pl
import torch
import torch.distributed as dist

from nlpkit.data import TEACHER_ONLY
from nlpkit.distill import Distiller
from nlpkit.model import TaskModel
from nlpkit.monitor import Monitor, val_key
from nlpkit.optim import embeddings_lr, parameter_groups, train_new_rows_at
from nlpkit.scoring import compute_metrics
from nlpkit.sections import TrainSection
from nlpkit.task import Feature, Task

log = logging.getLogger("nlpkit")
LOADER_STATE = "nlpkit_train_loader"
VALIDATED_STEP = "nlpkit_validated_step"
RNG_STATE = "nlpkit_rng_state"


class TaskModule(pl.LightningModule):
    def __init__(
        self,
        task: Task,
        model: TaskModel,
        train: TrainSection,
        val_examples: Sequence[Any] = (),
        val_features: Sequence[Feature] = (),
        monitor: Monitor | None = None,
        first_new_token: int | None = None,
        distiller: Distiller | None = None,
    ) -> None:
        super().__init__()
        if not callable(getattr(model.head, "loss", None)):
            from nlpkit.errors import PluginError

            raise PluginError(f"task {task.name}: its head ({type(model.head).__name__}) has no loss(output, batch)")
        self.task = task
        self.model = model
        self.train_cfg = train
        self.val_examples = list(val_examples)
        self.val_features = val_features  # a store's rows stay in the store
        self._rows: list[tuple[int, Any]] = []
        self._val_loss: list[tuple[float, int]] = []
        """(loss x batch size, batch size) per validation batch."""
        self._train_keys: frozenset[str] = frozenset()
        """The keys of a training batch: a validation batch holding them all (the
        training targets) has a loss; QA's validation windows, without answer positions,
        have none."""
        self._loader_state: dict[str, int] | None = None
        self._rng_state: dict[str, Any] | None = None
        self.last_validation: dict[str, Any] = {}
        self.validated_step: int | None = None
        """The optimizer step that ``last_validation`` scored."""
        self.first_new_token = first_new_token
        """The first embedding row of tokens added to the vocabulary (``train.new_token_lr``)."""
        self.monitor = monitor
        """The metric that picks the best checkpoint (None without validation data);
        checked at the first validation."""
        self.distiller = distiller
        """The teacher, when the recipe distils (``distill``): it adds the soft loss."""
        # from_pretrained leaves the encoder in eval mode and Lightning restores each
        # submodule's mode after validation: switch dropout on explicitly.
        self.model.train()
        if train.freeze_encoder:
            self.model.encoder.requires_grad_(False)

    def forward(self, batch: dict[str, torch.Tensor]) -> Any:
        return self.model(batch)

    # Where the training data stood: --resume continues mid-epoch with the next batch of
    # the same order (nlpkit.batching.ResumableLoader). Lightning restores stateful loaders
    # itself only if it has not built the loader before restoring, which
    # configure_optimizers does (estimated_stepping_batches): so the state travels here.
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        loader = self.trainer.train_dataloader
        if hasattr(loader, "state_dict") and hasattr(loader, "load_state_dict"):
            checkpoint[LOADER_STATE] = loader.state_dict()
        checkpoint[VALIDATED_STEP] = self.validated_step
        # The random stream too (dropout masks, MLM masking): resumed, the steps draw what
        # they would have drawn without the interruption.
        checkpoint[RNG_STATE] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            checkpoint[RNG_STATE]["cuda"] = torch.cuda.get_rng_state_all()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._loader_state = checkpoint.get(LOADER_STATE)
        self.validated_step = checkpoint.get(VALIDATED_STEP)
        self._rng_state = checkpoint.get(RNG_STATE)

    def on_train_start(self) -> None:
        loader = self.trainer.train_dataloader
        if self._loader_state is not None and hasattr(loader, "load_state_dict"):
            loader.load_state_dict(self._loader_state)
        if self._rng_state is not None:
            torch.set_rng_state(self._rng_state["torch"])
            if "cuda" in self._rng_state and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(self._rng_state["cuda"])
        self._loader_state = self._rng_state = None

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        size = int(batch["feature_index"].shape[0])
        parts: dict[str, torch.Tensor] = {}
        if self.distiller is not None:
            loss, parts = self.distiller.step(self.model, batch)
        else:
            loss = self.model.head.loss(self.model(batch), batch)
        # The progress bar shows them; the logs get them from nlpkit.callbacks.TrainingCurves,
        # with the steps counted as the run's log counts them.
        for name, value in parts.items():
            self.log(name, value, prog_bar=name != "hard_loss", logger=False, batch_size=size)
        self.log("train_loss", loss, prog_bar=True, logger=False, batch_size=size)
        return {"loss": loss, **{name: value.detach() for name, value in parts.items()}}

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        output = self.model(batch)
        rows = self.task.split_outputs(output, batch)
        self._rows.extend(zip(batch["feature_index"].tolist(), rows))
        if self._train_keys and self._train_keys <= batch.keys():
            size = int(batch["feature_index"].shape[0])
            self._val_loss.append((float(self.model.head.loss(output, batch)) * size, size))

    def on_train_batch_start(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        # Every key a training batch held (a batch of unlabelled rows alone lacks the labels).
        self._train_keys |= frozenset(batch) - {TEACHER_ONLY}

    def on_validation_epoch_start(self) -> None:
        self._rows = []
        self._val_loss = []

    def on_validation_epoch_end(self) -> None:
        rows, losses = self._gathered()
        if not self.val_features or self.trainer.sanity_checking:
            return
        by_index = dict(rows)  # the distributed sampler repeats rows to even out shards
        if len(by_index) != len(self.val_features):
            log.warning("validation saw %d of %d features", len(by_index), len(self.val_features))
            return
        outputs = [by_index[i] for i in range(len(self.val_features))]
        predictions = self.task.decode(self.val_examples, self.val_features, outputs)
        metrics = compute_metrics(self.task, self.val_examples, predictions)
        if self.monitor is not None and self.monitor.name not in metrics:
            from nlpkit.errors import RecipeError

            # Lightning would say so only after this validation, with a hint about self.log.
            raise RecipeError(
                f"{self.monitor.source}: the monitored metric {self.monitor.name!r} is not a validation metric of "
                f"task {self.task.name}; its metrics: "
                f"{', '.join(k for k, v in metrics.items() if isinstance(v, (int, float)))}"
            )
        self.last_validation = metrics
        self.validated_step = self.global_step
        flat = {val_key(k): float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)}
        if losses:
            flat[val_key("loss")] = sum(total for total, _ in losses) / sum(size for _, size in losses)
        # Every rank computed the same values from the gathered rows: no reduction. The
        # logs get them from nlpkit.callbacks.TrainingCurves.
        self.log_dict(flat, prog_bar=True, logger=False, sync_dist=False)
        summary = ", ".join(f"{k} {v:.4f}" for k, v in flat.items())
        if self.trainer.is_global_zero:
            log.info("epoch %d, step %d: %s", self.current_epoch, self.global_step, summary)

    def _gathered(self) -> tuple[list[tuple[int, Any]], list[tuple[float, int]]]:
        """This validation's output rows and batch losses, of every process."""
        rows, losses = self._rows, self._val_loss
        self._rows, self._val_loss = [], []
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            gathered: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, (rows, losses))
            rows = [r for part, _ in gathered for r in part]
            losses = [b for _, part in gathered for b in part]
        return rows, losses

    def configure_gradient_clipping(
        self, optimizer: Any, gradient_clip_val: float | None = None, gradient_clip_algorithm: str | None = None
    ) -> None:
        # Lightning's mixed-precision plugin refuses to clip for a fused optimizer because
        # a grad scaler would unscale inside step(); bf16 has no scaler, so the gradients
        # are already true gradients and clipping them here is exact.
        if not gradient_clip_val or getattr(self.trainer.precision_plugin, "scaler", None) is not None:
            self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)
            return
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if gradient_clip_algorithm == "value":
            torch.nn.utils.clip_grad_value_(params, gradient_clip_val)
        else:
            torch.nn.utils.clip_grad_norm_(params, gradient_clip_val)

    def configure_optimizers(self) -> Any:
        from transformers import get_linear_schedule_with_warmup

        groups = parameter_groups(self.model.encoder, self.model.head, self.train_cfg)
        # The fused kernel makes the update of MiniLM's 22M parameters several times
        # cheaper on CPU (docs/benchmarks.md), in full precision and under bf16 autocast
        # alike (the master weights stay fp32; see configure_gradient_clipping). Only an
        # fp16 grad scaler (trainer.precision=16-mixed) needs the plain kernel.
        fused = getattr(self.trainer.precision_plugin, "scaler", None) is None
        optimizer = torch.optim.AdamW(groups, lr=self.train_cfg.lr, fused=fused)
        self._new_tokens_at_their_lr(optimizer)
        total = int(self.trainer.estimated_stepping_batches)
        warmup = int(self.train_cfg.warmup_ratio * total)
        schedule = get_linear_schedule_with_warmup(optimizer, warmup, total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def _new_tokens_at_their_lr(self, optimizer: torch.optim.Optimizer) -> None:
        """Added tokens' embedding rows train at ``train.new_token_lr``."""
        embedding = self.model.encoder.get_input_embeddings().weight
        new_lr = self.train_cfg.new_token_lr
        if self.first_new_token is None or new_lr is None or not embedding.requires_grad:
            return
        factor = new_lr / embeddings_lr(self.model.encoder, self.train_cfg)
        train_new_rows_at(optimizer, embedding, self.first_new_token, factor)
        added = embedding.shape[0] - self.first_new_token
        if added:
            log.info("train.new_token_lr: the %d added tokens' embeddings train at %.3g", added, new_lr)
