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


def _encoder_layer(dim: int) -> nn.TransformerEncoderLayer:
    return nn.TransformerEncoderLayer(
        dim, nhead=4, dim_feedforward=2 * dim, dropout=0.1, batch_first=True, norm_first=True
    )


class PlateOcrNet(nn.Module):
    """Float NCHW image in [0, 1] -> (CTC log-probabilities (N, columns, alphabet), region logits).

    The last alphabet index, the pad character, doubles as the CTC blank.

    `blocks_per_stage` residual blocks follow each of the three downsampling stages and
    `encoder_layers` transformer layers read the columns. Every block and layer past the first
    starts as an identity (its residual branch ends in zeros: the last BatchNorm's scale, the
    attention's and feed-forward's output projections), so a deeper network loaded with a
    shallower one's weights (`edge.lab.train.ocr.load_onnx_weights`) reads exactly as that one
    until training moves the new parts. The first block and layer keep their names, so a net
    of depth 1 exports the very graph the shipped models have.
    """

    def __init__(
        self,
        shape: OcrModelShape,
        width: int = 32,
        dim: int = 128,
        blocks_per_stage: int = 1,
        encoder_layers: int = 1,
    ) -> None:
        super().__init__()
        if blocks_per_stage < 1 or encoder_layers < 1:
            raise ValueError("an OCR network needs at least one block per stage and one layer")
        self.shape = shape
        self.blocks_per_stage = blocks_per_stage
        self.encoder_layers = encoder_layers

        def stage(channels: int) -> list[nn.Module]:
            blocks = [ResidualBlock(channels) for _ in range(blocks_per_stage)]
            for added in blocks[1:]:
                nn.init.zeros_(added.body[2].weight)  # the last BatchNorm's scale
            return blocks

        self.backbone = nn.Sequential(
            conv_block(3, width // 2, 2),  # H/2, W/2
            conv_block(width // 2, width, 2),  # H/4, W/4
            *stage(width),
            conv_block(width, 2 * width, (2, 1)),  # H/8
            *stage(2 * width),
            conv_block(2 * width, 3 * width, (2, 1)),  # H/16
            *stage(3 * width),
        )
        rows = shape.img_height // 16
        columns = shape.img_width // 4
        self.to_tokens = nn.Linear(3 * width * rows, dim)
        self.position = nn.Parameter(torch.randn(1, columns, dim) * 0.02)
        self.encoder = _encoder_layer(dim)
        self.more_encoders = nn.ModuleList(_encoder_layer(dim) for _ in range(encoder_layers - 1))
        for layer in self.more_encoders:
            for projection in (layer.self_attn.out_proj, layer.linear2):
                nn.init.zeros_(projection.weight)
                nn.init.zeros_(projection.bias)
        self.char_head = nn.Linear(dim, len(shape.alphabet))
        self.region_head = nn.Linear(dim, max(len(shape.regions), 1))

    def conv_norm_pairs(self, blocks_per_stage: int) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
        """Each convolution with the BatchNorm after it, in graph order, of the network as it
        would be with `blocks_per_stage` blocks: the first that many blocks of each stage."""
        kept: list[nn.Module] = []
        in_stage = 0
        for module in self.backbone:
            if isinstance(module, ResidualBlock):
                in_stage += 1
                if in_stage > blocks_per_stage:
                    continue
            else:
                in_stage = 0
            kept.append(module)
        modules = [m for top in kept for m in top.modules()]
        return [(m, modules[i + 1]) for i, m in enumerate(modules) if isinstance(m, nn.Conv2d)]

    def linear_weights(self, encoder_layers: int) -> list[torch.Tensor]:
        """The weights exported as MatMul initializers, in graph order, of the network as it
        would be with its first `encoder_layers` layers."""
        layers = [self.encoder, *self.more_encoders][:encoder_layers]
        inner = [
            w
            for layer in layers
            for w in (layer.self_attn.in_proj_weight, layer.linear1.weight, layer.linear2.weight)
        ]
        return [self.to_tokens.weight, *inner, self.char_head.weight]

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone(images)  # N, C, rows, columns
        n, c, rows, columns = features.shape
        tokens = features.permute(0, 3, 1, 2).reshape(n, columns, c * rows)
        tokens = self.encoder(self.to_tokens(tokens) + self.position)
        for layer in self.more_encoders:
            tokens = layer(tokens)
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
