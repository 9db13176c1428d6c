"""Fine-tunes from an exported ONNX file: its BatchNorms were folded into the convolutions.

The OCR and detector trainers both load exported weights into a network whose BatchNorms
then carry only the folded bias; those must keep fixed statistics while training.
"""

from __future__ import annotations

import torch


def freeze_batch_norm(net: torch.nn.Module) -> None:
    """Eval mode for every BatchNorm (fixed statistics), the rest unchanged."""
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.eval()
