"""Input Gram matrices ``X^T X`` of a model's linear layers over calibration images.

One forward pass in batches with a forward pre-hook on each chosen ``nn.Linear``: the hook adds
``x^T x`` of the layer's input ``x`` (``[batch, in]``, one batch in the input's float32) to a
float64 sum, so the sum over thousands of images loses no precision. The Gram is not centred
and not divided by the count (SVD-LLM's ``X X^T`` with rows as examples): the output error of
a truncated layer is ``||(W - W') X^T||_F^2 = tr((W - W') G (W - W')^T)`` with exactly this ``G``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from rmt_gui.model.data import MnistSplit
from rmt_gui.model.evaluate import check_runnable, log_probs
from rmt_gui.model.modes import evaluation_mode
from rmt_gui.model.surgery import get_linear

CALIBRATION_BATCH = 1024
Progress = Callable[[int, int], None]


def _accumulate(grams: dict[str, torch.Tensor], layer: str) -> Callable[..., None]:
    """A forward pre-hook adding ``x^T x`` of the module's input to the float64 ``grams[layer]``."""

    def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0].detach().reshape(-1, inputs[0].shape[-1])
        grams[layer] += (x.T @ x).to(torch.float64)

    return hook


def input_grams(
    model: nn.Module,
    data: MnistSplit,
    layers: list[str],
    batch_size: int = CALIBRATION_BATCH,
    progress: Progress | None = None,
) -> dict[str, torch.Tensor]:
    """``{layer: X^T X}`` (float64 ``[in, in]``) of each weight key in ``layers`` over ``data``.

    ``progress(done, total)`` is called after each batch and may raise to cancel.
    """
    check_runnable(model)
    modules = {layer: get_linear(model, layer) for layer in layers}
    grams = {
        layer: torch.zeros(m.in_features, m.in_features, dtype=torch.float64)
        for layer, m in modules.items()
    }
    handles = [m.register_forward_pre_hook(_accumulate(grams, k)) for k, m in modules.items()]
    try:
        with evaluation_mode(model), torch.inference_mode():
            for lo in range(0, len(data), batch_size):
                hi = min(lo + batch_size, len(data))
                log_probs(model, data.images[lo:hi])
                if progress is not None:
                    progress(hi, len(data))
    finally:
        for handle in handles:
            handle.remove()
    return grams
