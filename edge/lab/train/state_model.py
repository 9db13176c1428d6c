"""The state classifier: a small residual CNN over a 64x128 plate crop.

What tells states apart is mostly where colour, pictures and printed words (the state's name,
slogans) sit on the plate, so the head keeps a coarse 2x4 map of positions rather than
averaging the whole plate into one vector. Sized for a Raspberry Pi: about 35 M multiply-adds
per crop and well under 2 MB of float32 weights.
"""

from __future__ import annotations

import torch
from torch import nn

from edge.lab.train.ocr_model import ResidualBlock, conv_block


class StateNet(nn.Module):
    """Float NCHW RGB in [0, 1] (64x128) -> class logits."""

    def __init__(self, classes: int, width: int = 16) -> None:
        super().__init__()
        w = width
        self.backbone = nn.Sequential(
            conv_block(3, w, 2),  # 32x64
            conv_block(w, 2 * w, 2),  # 16x32
            ResidualBlock(2 * w),
            conv_block(2 * w, 4 * w, 2),  # 8x16
            ResidualBlock(4 * w),
            conv_block(4 * w, 6 * w, 2),  # 4x8
            ResidualBlock(6 * w),
        )
        self.pool = nn.AdaptiveAvgPool2d((2, 4))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(6 * w * 8, classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.backbone(images)))


class StateServing(nn.Module):
    """The exported contract: uint8 NHWC RGB `input` -> `state` probabilities (N, classes)."""

    def __init__(self, net: StateNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).float() / 255.0
        return self.net(x).softmax(dim=-1)
