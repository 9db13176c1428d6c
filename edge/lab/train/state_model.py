"""The state classifier: a small residual CNN over a 64x128 plate crop.

What tells states apart is mostly where colour, pictures and printed words (the state's name,
slogans) sit on the plate, so the head keeps a coarse 2x4 map of positions rather than
averaging the whole plate into one vector. Sized for a Raspberry Pi: about 35 M multiply-adds
per crop and well under 2 MB of float32 weights.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class _Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(channels, channels),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class StateNet(nn.Module):
    """Float NCHW RGB in [0, 1] (64x128) -> class logits."""

    def __init__(self, classes: int, width: int = 16) -> None:
        super().__init__()
        w = width
        self.backbone = nn.Sequential(
            _conv(3, w, 2),  # 32x64
            _conv(w, 2 * w, 2),  # 16x32
            _Residual(2 * w),
            _conv(2 * w, 4 * w, 2),  # 8x16
            _Residual(4 * w),
            _conv(4 * w, 6 * w, 2),  # 4x8
            _Residual(6 * w),
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
