"""The plate detector network: a small CenterNet-style model with a stride-4 output.

A MobileNetV2-like backbone (inverted residual blocks) feeds a light feature pyramid that merges
strides 32, 16 and 8 into one stride-4 map. Three heads sit on that map:

- heatmap: probability that a cell holds a plate centre (an elongated Gaussian in training);
- boxes: distances (left, top, right, bottom) from the cell centre to the box edges, in pixels;
- corners: the four plate corners as offsets from the cell centre, in units of the box width
  and height, clockwise from top-left.

The exported graph takes the letterboxed frame as uint8 BGR NHWC, so the runtime only resizes
and pads; it returns the heatmap already reduced to its local maxima (3x3 max-pool), so decoding
in numpy is a threshold and a gather.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

STRIDE = 4
# log-distance clamp: exp(8) * 4 px covers any box the 640-px input can hold.
_MAX_LOG_DISTANCE = 8.0


def _conv_bn(c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: expand (1x1), depthwise 3x3, project (1x1), residual when shapes match."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.use_residual = stride == 1 and c_in == c_out
        self.block = nn.Sequential(
            _conv_bn(c_in, hidden),
            _conv_bn(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.use_residual else out


def _stage(c_in: int, c_out: int, blocks: int, expand: int) -> nn.Sequential:
    layers = [InvertedResidual(c_in, c_out, 2, expand)]
    layers += [InvertedResidual(c_out, c_out, 1, expand) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class PlateNet(nn.Module):
    """Backbone + pyramid + heads; `forward` takes float NCHW in [0, 1] and returns raw maps."""

    def __init__(self, width: int = 16, neck: int = 32) -> None:
        super().__init__()
        c4, c8, c16, c32 = width + 8, width * 2, width * 4, width * 6
        self.stem = nn.Sequential(_conv_bn(3, width, 3, 2), _conv_bn(width, width, 3, 1, width))
        self.s4 = _stage(width, c4, 2, 3)
        self.s8 = _stage(c4, c8, 3, 3)
        self.s16 = _stage(c8, c16, 3, 4)
        self.s32 = _stage(c16, c32, 2, 4)
        self.lateral = nn.ModuleList(_conv_bn(c, neck) for c in (c4, c8, c16, c32))
        self.smooth = nn.ModuleList(_conv_bn(neck, neck, 3, 1, neck) for _ in range(3))
        self.head = nn.Sequential(_conv_bn(neck, neck, 3, 1, neck), _conv_bn(neck, neck * 2))
        self.heatmap = nn.Conv2d(neck * 2, 1, 1)
        self.boxes = nn.Conv2d(neck * 2, 4, 1)
        self.corners = nn.Conv2d(neck * 2, 8, 1)
        # Start with a low plate prior so the focal loss is not swamped by background at step 0.
        nn.init.constant_(self.heatmap.bias, -4.6)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f4 = self.s4(self.stem(x))
        f8 = self.s8(f4)
        f16 = self.s16(f8)
        f32 = self.s32(f16)
        merged = self.lateral[3](f32)
        for level, (feature, smooth) in enumerate(
            zip((f16, f8, f4), self.smooth, strict=True), start=0
        ):
            lateral = self.lateral[2 - level](feature)
            up = functional.interpolate(merged, size=lateral.shape[-2:], mode="nearest")
            merged = smooth(lateral + up)
        features = self.head(merged)
        return self.heatmap(features), self.boxes(features), self.corners(features)


class ExportedDetector(nn.Module):
    """What goes into ONNX: uint8 BGR NHWC in; peak heatmap, pixel boxes and corners out."""

    def __init__(self, net: PlateNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = image.permute(0, 3, 1, 2).float() / 255.0
        logits, log_distances, corners = self.net(x)
        heat = torch.sigmoid(logits)
        peaks = functional.max_pool2d(heat, 3, stride=1, padding=1)
        heat = heat * (peaks == heat).float()
        distances = torch.exp(log_distances.clamp(max=_MAX_LOG_DISTANCE)) * STRIDE
        return heat, distances, corners


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
