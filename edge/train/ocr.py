"""Train the plate reader, export it to ONNX, check the export and write its figures.

Plain PyTorch on one thread (the machine's other core trains the detector). Synthetic plates
come fresh all the time from `edge.synth.plates`; from a third of the budget on, real crops from
the MIT-licensed detection sets join each batch once our model and PP-OCR agree on their text
(see `edge.train.ocr_real`), and the labelling repeats as the model improves.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F
import yaml
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from edge.errors import ModelError
from edge.evaluation.ocr import evaluate_us_crops, normalise_plate
from edge.recognise import PlateReader
from edge.recognise.decoding import greedy
from edge.recognise.preprocess import to_model_input
from edge.shared_data import shared_data_dir, shared_data_path
from edge.synth import formats
from edge.synth.plates import PlateRenderer
from edge.train.ocr_data import (
    UNKNOWN_REGION,
    LabelledCrop,
    SamplePool,
    augment,
    concat_batches,
    plate_config,
)
from edge.train.ocr_model import OcrModelShape, PlateOcrNet, ServingWrapper
from edge.train.ocr_real import PseudoLabeller, mit_crops
from edge.train.ocr_teacher import PaddleTeacher, teacher_model_path

log = logging.getLogger(__name__)

MODEL_FILE = "ocr.onnx"
CONFIG_FILE = "ocr_plate_config.yaml"
METRICS_FILE = "ocr_metrics.json"
# The ONNX export must give the same probabilities as the trained network, within float error.
EXPORT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class OcrTrainConfig:
    out_dir: Path = Path("models")
    minutes: float = 70.0
    batch_size: int = 32
    pool_size: int = 40_000
    initial_renders: int = 12_000
    # Fresh plates rendered after every step, replacing the oldest in the pool.
    renders_per_step: int = 4
    # Share of each batch drawn from pseudo-labelled real crops once there are some.
    real_share: float = 0.25
    # When (as shares of the training time) real crops are (re)labelled.
    pseudo_label_at: tuple[float, ...] = (0.3, 0.55, 0.8)
    max_steps: int | None = None
    max_real_crops: int | None = None
    validation_size: int = 1_000
    learning_rate: float = 1e-3
    # Extra augmentation starts after this share of the time, on `augment_share` of each batch.
    plain_until: float = 0.1
    augment_share: float = 0.5
    # Share of rendered crops that hold text but no plate: the model learns to read nothing.
    negative_rate: float = 0.03
    seed: int = 0

    @classmethod
    def smoke(cls, out_dir: Path) -> OcrTrainConfig:
        """A few tiny steps through every stage, for CI."""
        return cls(
            out_dir=out_dir,
            minutes=1.0,
            batch_size=8,
            pool_size=64,
            initial_renders=24,
            renders_per_step=1,
            pseudo_label_at=(0.5,),
            max_steps=4,
            max_real_crops=4,
            validation_size=8,
        )


def _renders(renderer: PlateRenderer, count: int) -> Iterator[LabelledCrop]:
    for _ in range(count):
        sample = renderer.render()
        yield LabelledCrop(sample.image, sample.text, sample.state)


class _Student:
    """Reads crops with the network being trained, as the pseudo-labeller asks."""

    def __init__(self, net: PlateOcrNet) -> None:
        self.serving = ServingWrapper(net).eval()
        self.shape = net.shape
        self.config = plate_config(net.shape)

    @torch.no_grad()
    def __call__(self, crops: list[np.ndarray]) -> list[str]:
        texts = []
        for start in range(0, len(crops), 128):
            batch = np.stack([to_model_input(c, self.config) for c in crops[start : start + 128]])
            slots, _ = self.serving(torch.from_numpy(batch))
            for probabilities in slots.numpy():
                texts.append(greedy(probabilities, self.shape.alphabet, self.shape.pad_char).text)
        return texts


def _loss(
    net: PlateOcrNet,
    batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    generator: torch.Generator,
    augment_share: float,
) -> torch.Tensor:
    images, chars, regions = batch
    log_probs, region_logits = net(augment(images, generator, augment_share))
    blank = net.shape.alphabet.index(net.shape.pad_char)
    columns = torch.full((len(images),), log_probs.shape[1], dtype=torch.long)
    loss = F.ctc_loss(
        log_probs.transpose(0, 1),
        chars,
        columns,
        (chars != blank).sum(dim=1),
        blank=blank,
        zero_infinity=True,
    )
    if bool((regions != UNKNOWN_REGION).any()):
        loss = loss + 0.5 * F.cross_entropy(region_logits, regions, ignore_index=UNKNOWN_REGION)
    return loss


def _learning_rate(peak: float, progress: float) -> float:
    warmup = 0.03
    if progress < warmup:
        return peak * progress / warmup
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * (progress - warmup) / (1 - warmup))))


def export_onnx(net: PlateOcrNet, shape: OcrModelShape, out_dir: Path) -> tuple[Path, Path]:
    """Write the ONNX model (fast-plate-ocr contract) and its plate-config YAML."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path, config_path = out_dir / MODEL_FILE, out_dir / CONFIG_FILE
    wrapper = ServingWrapper(net).eval()
    example = torch.zeros(1, shape.img_height, shape.img_width, 3, dtype=torch.uint8)
    batch_axis = {0: "batch"}
    torch.onnx.export(
        wrapper,
        (example,),
        str(model_path),
        input_names=["input"],
        output_names=["plate", "region"],
        dynamic_axes={"input": batch_axis, "plate": batch_axis, "region": batch_axis},
        opset_version=17,
        # The torch.export-based exporter needs onnxscript, which the train extra does not carry.
        dynamo=False,
    )
    config = plate_config(shape)
    document = {
        "max_plate_slots": config.max_plate_slots,
        "alphabet": config.alphabet,
        "pad_char": config.pad_char,
        "img_height": config.img_height,
        "img_width": config.img_width,
        "keep_aspect_ratio": config.keep_aspect_ratio,
        "interpolation": config.interpolation,
        "image_color_mode": config.image_color_mode,
        "plate_regions": list(shape.regions),
    }
    config_path.write_text(
        "# fast-plate-ocr plate config of models/ocr.onnx, written by `alpr-edge train ocr`.\n"
        + yaml.safe_dump(document, sort_keys=False)
    )
    return model_path, config_path


def verify_export(net: PlateOcrNet, model_path: Path, images: np.ndarray) -> float:
    """Largest probability difference between onnxruntime and torch; ModelError past tolerance."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    onnx_chars, onnx_regions = session.run(["plate", "region"], {"input": images})
    with torch.no_grad():
        torch_chars, torch_regions = ServingWrapper(net).eval()(torch.from_numpy(images))
    difference = max(
        float(np.abs(onnx_chars - torch_chars.numpy()).max()),
        float(np.abs(onnx_regions - torch_regions.numpy()).max()),
    )
    if difference > EXPORT_TOLERANCE:
        raise ModelError(model_path, f"ONNX output differs from torch by {difference:.2e}")
    return difference


def _synthetic_exact(reader: PlateReader, validation: list[LabelledCrop]) -> float:
    reads = reader.read([crop.image for crop in validation])
    right = sum(
        normalise_plate(r.text) == normalise_plate(c.text)
        for r, c in zip(reads, validation, strict=True)
    )
    return right / len(validation)


def train_ocr(config: OcrTrainConfig) -> dict[str, object]:
    """Train, export to `config.out_dir`, verify, evaluate; returns (and writes) the metrics."""
    torch.set_num_threads(1)
    torch.manual_seed(config.seed)
    started = time.monotonic()
    deadline = started + config.minutes * 60 * 0.95
    shape = OcrModelShape(regions=formats.STATES)
    renderer = PlateRenderer(config.seed, negative_rate=config.negative_rate)
    validation = list(_renders(PlateRenderer(config.seed + 1_000_000), config.validation_size))
    synth = SamplePool(config.pool_size, shape)
    synth.extend(_renders(renderer, config.initial_renders))
    log.info("rendered %d plates in %.0f s", synth.size, time.monotonic() - started)

    net = PlateOcrNet(shape, width=24)
    ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.998), use_buffers=True)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=0.02)
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)

    crops = mit_crops(shared_data_dir(), config.max_real_crops)
    teacher_path = teacher_model_path()
    if crops and teacher_path is None:
        log.warning("rapidocr-onnxruntime is not installed: training on synthetic plates only")
    labeller: PseudoLabeller | None = None
    real: SamplePool | None = None
    milestones = list(config.pseudo_label_at) if crops and teacher_path else []

    loop_start = time.monotonic()
    step = seen = 0
    while True:
        progress = (time.monotonic() - loop_start) / max(deadline - loop_start, 1e-6)
        if config.max_steps is not None:
            progress = max(progress, step / config.max_steps)
        if progress >= 1:
            break
        if milestones and progress >= milestones[0]:
            milestones.pop(0)
            labeller = labeller or PseudoLabeller(crops, PaddleTeacher(teacher_path))
            labelled = labeller.label(_Student(ema.module))
            # Each labelling round also leaves a usable model behind, in case the run is cut short.
            export_onnx(ema.module, shape, config.out_dir)
            net.train()
            real = SamplePool(max(len(labelled), 1), shape) if labelled else None
            if real is not None:
                real.extend(labelled)
        real_count = round(config.batch_size * config.real_share) if real else 0
        parts = [synth.batch(config.batch_size - real_count, rng)]
        if real is not None and real_count:
            parts.append(real.batch(real_count, rng))
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(config.learning_rate, progress)
        augment_share = config.augment_share if progress >= config.plain_until else 0.0
        loss = _loss(net, concat_batches(parts), gen, augment_share)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        optimizer.step()
        ema.update_parameters(net)
        synth.extend(_renders(renderer, config.renders_per_step))
        step += 1
        seen += config.batch_size
        if step % 250 == 0:
            elapsed = time.monotonic() - loop_start
            log.info(
                "step %d loss %.3f %.0f img/s %.1f min real %d",
                step,
                loss.item(),
                seen / elapsed,
                elapsed / 60,
                real.size if real else 0,
            )
    train_minutes = (time.monotonic() - started) / 60

    final = ema.module.eval()
    model_path, config_path = export_onnx(final, shape, config.out_dir)
    probe = np.stack([to_model_input(c.image, plate_config(shape)) for c in validation[:32]])
    difference = verify_export(final, model_path, probe)
    reader = PlateReader(model_path, config_path)
    metrics: dict[str, object] = {
        "architecture": "residual CNN + transformer layer, 32 CTC columns collapsed to 9 slots",
        "input": f"{shape.img_height}x{shape.img_width} RGB uint8",
        "parameters": sum(p.numel() for p in final.parameters()),
        "onnx_bytes": model_path.stat().st_size,
        "onnx_max_difference_vs_torch": difference,
        "steps": step,
        "images_seen": seen,
        "train_minutes": round(train_minutes, 1),
        "real_pseudo_labelled": real.size if real else 0,
        "synthetic_validation_exact": _synthetic_exact(reader, validation),
    }
    us_crops = shared_data_path("real", "us-crops")
    if us_crops is not None:
        evaluation = evaluate_us_crops(reader, us_crops)
        metrics["real_us_crops"] = evaluation.summary()
    (config.out_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    log.info("OCR metrics: %s", metrics)
    return metrics
