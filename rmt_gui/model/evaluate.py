"""Accuracy and mean NLL loss of a model on preloaded MNIST tensors, in large batches.

Any runnable module works: the rebuilt MLP, a TorchScript archive, a trusted pickled module.
Inputs go in as ``[N, 1, 28, 28]``, or flattened to ``[N, 784]`` if the model wants that;
outputs ``[N, 10]`` are turned into log-probabilities (``log_softmax`` is idempotent on them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from rmt_gui.errors import one_line
from rmt_gui.model.data import MnistSplit
from rmt_gui.model.modes import evaluation_mode
from rmt_gui.model.tree import MNIST_CLASSES, NotRunnableError, WeightTree

Progress = Callable[[int, int], None]
EVAL_BATCH = 2500


@dataclass(frozen=True)
class EvalResult:
    """Test accuracy in ``[0, 1]``, mean NLL loss, number of examples and wall time."""

    accuracy: float
    loss: float
    count: int
    seconds: float

    def to_json(self) -> dict[str, float | int]:
        return {
            "accuracy": self.accuracy,
            "loss": self.loss,
            "count": self.count,
            "seconds": self.seconds,
        }


def check_runnable(model: nn.Module) -> None:
    """Raise :class:`NotRunnableError` when ``model`` is a weights-only tree."""
    if isinstance(model, WeightTree) and not model.chain:
        raise NotRunnableError(
            "cannot rebuild this architecture as an MNIST classifier (evaluation needs linear "
            "layers chaining 784 inputs to 10 classes): spectra, pruning and export still work"
        )


def log_probs(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Log-probabilities ``[N, 10]`` from ``model`` on ``images`` ``[N, 1, 28, 28]``."""
    try:
        out = model(images)
    except NotRunnableError:
        raise
    except Exception as first:
        try:
            out = model(images.flatten(1))
        except Exception:
            raise NotRunnableError(
                f"the model does not accept MNIST images ({one_line(first)})"
            ) from first
    if not isinstance(out, torch.Tensor):
        raise NotRunnableError(f"model output is a {type(out).__name__}, expected a tensor")
    if out.ndim != 2 or out.shape[1] != MNIST_CLASSES:
        raise NotRunnableError(f"model output has shape {list(out.shape)}, expected [N, 10]")
    return torch.log_softmax(out.float(), dim=1)


def evaluate(
    model: nn.Module,
    data: MnistSplit,
    batch_size: int = EVAL_BATCH,
    progress: Progress | None = None,
    device: torch.device | None = None,
) -> EvalResult:
    """Evaluate in inference mode; ``progress(done, total)`` may raise to cancel.

    With ``device``, the model is moved there and each batch is sent there before it runs.
    """
    if device is not None:
        model.to(device)
    check_runnable(model)
    start = time.perf_counter()
    total = len(data)
    correct, loss_sum = 0, 0.0
    with evaluation_mode(model), torch.inference_mode():
        for lo in range(0, total, batch_size):
            hi = min(lo + batch_size, total)
            logp = log_probs(model, data.images[lo:hi].to(device))
            labels = data.labels[lo:hi].to(logp.device)
            correct += int((logp.argmax(dim=1) == labels).sum())
            loss_sum += float(nn.functional.nll_loss(logp, labels, reduction="sum"))
            if progress is not None:
                progress(hi, total)
    return EvalResult(correct / total, loss_sum / total, total, time.perf_counter() - start)
