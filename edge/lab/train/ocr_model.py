"""The plate reader: a small CNN and a transformer layer over 32 columns, trained with CTC.

fast-plate-ocr serves fixed slots (slot k holds the k-th character or the pad character), so the
exported graph ends in a greedy CTC collapse written with tensor ops (`ctc_to_slots`): the model
keeps CTC's column-wise training, which learns quickly and tolerates logos and gaps between
character groups, and the ONNX file keeps fast-plate-ocr's contract.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

# The character each slot may hold; `PAD_CHAR` fills the slots after the last character.
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
PAD_CHAR = "_"


@dataclass(frozen=True)
class OcrModelShape:
    """What the network reads and predicts; written into the plate-config YAML beside the model."""

    img_height: int = 64
    img_width: int = 128
    max_plate_slots: int = 9
    alphabet: str = ALPHABET
    pad_char: str = PAD_CHAR
    regions: tuple[str, ...] = ()


def conv_block(c_in: int, c_out: int, stride: int | tuple[int, int] = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_block(channels, channels),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class PlateOcrNet(nn.Module):
    """Float NCHW image in [0, 1] -> (CTC log-probabilities (N, columns, alphabet), region logits).

    The last alphabet index, the pad character, doubles as the CTC blank.
    """

    def __init__(self, shape: OcrModelShape, width: int = 32, dim: int = 128) -> None:
        super().__init__()
        self.shape = shape
        self.backbone = nn.Sequential(
            conv_block(3, width // 2, 2),  # H/2, W/2
            conv_block(width // 2, width, 2),  # H/4, W/4
            ResidualBlock(width),
            conv_block(width, 2 * width, (2, 1)),  # H/8
            ResidualBlock(2 * width),
            conv_block(2 * width, 3 * width, (2, 1)),  # H/16
            ResidualBlock(3 * width),
        )
        rows = shape.img_height // 16
        columns = shape.img_width // 4
        self.to_tokens = nn.Linear(3 * width * rows, dim)
        self.position = nn.Parameter(torch.randn(1, columns, dim) * 0.02)
        self.encoder = nn.TransformerEncoderLayer(
            dim, nhead=4, dim_feedforward=2 * dim, dropout=0.1, batch_first=True, norm_first=True
        )
        self.char_head = nn.Linear(dim, len(shape.alphabet))
        self.region_head = nn.Linear(dim, max(len(shape.regions), 1))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone(images)  # N, C, rows, columns
        n, c, rows, columns = features.shape
        tokens = features.permute(0, 3, 1, 2).reshape(n, columns, c * rows)
        tokens = self.encoder(self.to_tokens(tokens) + self.position)
        return self.char_head(tokens).log_softmax(dim=-1), self.region_head(tokens.mean(dim=1))


def ctc_to_slots(log_probs: torch.Tensor, slots: int) -> torch.Tensor:
    """Greedy CTC collapse done with tensor ops, so that it runs inside the ONNX graph.

    Each kept column (not blank, not a repeat of the column before) fills the next slot with its
    probabilities; slots left over hold the pad character with probability 1.
    """
    probabilities = log_probs.exp()
    blank = probabilities.shape[-1] - 1
    best = probabilities.argmax(dim=-1)  # N, T
    previous = torch.cat([torch.full_like(best[:, :1], blank), best[:, :-1]], dim=1)
    kept = (best != blank) & (best != previous)
    slot_of_column = kept.long().cumsum(dim=1) - 1
    slot_ids = torch.arange(slots, device=log_probs.device).view(1, slots, 1)
    chosen = ((slot_of_column.unsqueeze(1) == slot_ids) & kept.unsqueeze(1)).float()  # N, S, T
    filled = chosen.sum(dim=-1, keepdim=True)
    pad = torch.zeros_like(probabilities[:, :1, :])
    pad[..., blank] = 1.0
    return torch.bmm(chosen, probabilities) + pad * (1.0 - filled)


class ServingWrapper(nn.Module):
    """The fast-plate-ocr contract: uint8 NHWC `input` -> per-slot `plate` and `region`."""

    def __init__(self, net: PlateOcrNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = images.permute(0, 3, 1, 2).float() / 255.0
        log_probs, regions = self.net(x)
        return ctc_to_slots(log_probs, self.net.shape.max_plate_slots), regions.softmax(dim=-1)
