"""Train the state classifier, export it to ONNX, check the export and write its figures.

The signal is in real plates: the OCR's region head, trained on rendered state designs only,
names the state of a quarter of `real/us-crops`, while a small CNN trained on the real
state-labelled crops of `state/us-plates-by-state` (CC0) names most of them. So the real set's
train split is the bulk of every batch; the project's renderer adds the three non-US classes
(UK, EU, BR: the unit must be able to say a plate is not a US one) and a minority of rendered
US plates. `real/us-crops` (AGPL) is never read here before the model is chosen: the checkpoint
and the sure threshold come from the state set's valid split (see models/README.md for the rule),
and `real/us-crops` is measured only after export.

Plain PyTorch on one thread, wall-clock budget, cosine learning rate, EMA weights.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from edge.errors import InputError, ModelError
from edge.lab.evaluation.ocr import normalise_plate
from edge.lab.evaluation.state import (
    CLASSES_KEY,
    INPUT_HEIGHT,
    INPUT_WIDTH,
    NON_US,
    SURE_THRESHOLD_KEY,
    StateClassifier,
    choose_sure_threshold,
    load_state_split,
    score_states,
    state_figures,
    to_state_input,
)
from edge.lab.shared_data import shared_data_path
from edge.lab.synth.plates import PlateRenderer
from edge.lab.train.ocr import CONFIG_FILE as OCR_CONFIG_FILE
from edge.lab.train.state_model import StateNet, StateServing
from edge.plates.regions import US_STATES
from edge.runtime.recognise import PlateReader

log = logging.getLogger(__name__)

MODEL_FILE = "state.onnx"
METRICS_FILE = "state_metrics.json"
EXPORT_TOLERANCE = 1e-4
# US territories in the state set; the renderer draws none of them.
TERRITORIES = ("AS", "GU", "MP", "PR", "VI")
# Output order: US states, DC and territories alphabetically, then the non-US classes.
CLASSES: tuple[str, ...] = tuple(sorted((*US_STATES, *TERRITORIES))) + NON_US
STATE_SET = ("state", "us-plates-by-state")


@dataclass(frozen=True)
class StateTrainConfig:
    out_dir: Path = Path("models")
    minutes: float = 45.0
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    # Shares of each batch: rendered UK/EU/BR plates, rendered US plates; the rest is real.
    non_us_share: float = 0.1
    synthetic_us_share: float = 0.08
    # Rendered plates kept in each pool, rendered up front, and fresh ones after every step.
    pool_size: int = 4_000
    initial_renders: int = 1_500
    renders_per_step: int = 1
    # Share of real crops that get geometry, resolution, colour and noise augmentation.
    augment_share: float = 0.85
    jpeg_share: float = 0.25
    # The EMA weights are scored on the valid split this often; the best score from
    # `select_from` of the run on is exported (ties go to the later checkpoint).
    evaluate_every_minutes: float = 2.0
    select_from: float = 0.5
    # A named state must be right this often on the valid split (see `choose_sure_threshold`).
    sure_precision: float = 0.95
    width: int = 16
    # Start from (and write the chosen weights to) a torch state dict, for a fine-tune round.
    init: Path | None = None
    checkpoint: Path | None = None
    max_steps: int | None = None
    max_real_per_split: int | None = None
    # Without the state set a full run refuses to start; a smoke run trains on rendered plates.
    require_real: bool = True
    non_us_validation: int = 300
    latency_runs: int = 200
    # The OCR reads the state set's plates to find the copies of `real/us-crops` it holds
    # (`edge.lab.evaluation.state.copies_in`); a smoke run skips that check.
    ocr_model: Path | None = Path("models/ocr.onnx")
    check_copies: bool = True
    threads: int = 1
    seed: int = 0

    @classmethod
    def smoke(cls, out_dir: Path) -> StateTrainConfig:
        """A few tiny steps through every stage, for CI."""
        return cls(
            out_dir=out_dir,
            minutes=1.0,
            batch_size=8,
            pool_size=32,
            initial_renders=16,
            max_steps=4,
            max_real_per_split=40,
            evaluate_every_minutes=0.0,
            select_from=0.0,
            require_real=False,
            non_us_validation=8,
            latency_runs=5,
            check_copies=False,
        )


class RenderPool:
    """A ring of rendered, model-ready plates from one renderer (fresh plates all the time
    without waiting on the renderer: a render costs about a twentieth of a step)."""

    def __init__(self, renderer: PlateRenderer, capacity: int) -> None:
        self.renderer = renderer
        self.images = np.zeros((capacity, INPUT_HEIGHT, INPUT_WIDTH, 3), np.uint8)
        self.labels = np.zeros(capacity, np.int64)
        self.size = 0
        self._next = 0

    def render(self, count: int) -> None:
        for _ in range(count):
            sample = self.renderer.render()
            self.images[self._next] = to_state_input(sample.image)
            self.labels[self._next] = CLASSES.index(sample.state)
            self._next = (self._next + 1) % len(self.images)
            self.size = min(self.size + 1, len(self.images))

    def batch(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        index = rng.integers(0, self.size, count)
        return self.images[index], self.labels[index]


def _as_arrays(crops: Sequence) -> tuple[np.ndarray, np.ndarray]:
    images = np.stack([to_state_input(c.image) for c in crops])
    return images, np.array([CLASSES.index(c.state) for c in crops], np.int64)


def load_state_set(
    max_per_split: int | None,
) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """The state set's splits as model-ready arrays, or None when the set is absent."""
    folder = shared_data_path(*STATE_SET)
    if folder is None:
        return None
    splits = {}
    for split in ("train", "valid", "test"):
        crops = load_state_split(folder, split, max_per_split)
        unknown = {c.state for c in crops} - set(CLASSES)
        if unknown:
            raise InputError(f"{folder}: states outside the classes: {', '.join(sorted(unknown))}")
        splits[split] = _as_arrays(crops)
    return splits


def _jpeg(images: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """JPEG damage on `share` of a uint8 batch (a copy)."""
    out = images.copy()
    for i in np.flatnonzero(rng.random(len(images)) < share):
        quality = int(rng.integers(20, 85))
        ok, encoded = cv2.imencode(".jpg", out[i], [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            out[i] = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    return out


def _uniform(count: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(count, generator=generator) * (high - low) + low


def _crop_jitter(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Tighter or looser crops, a little rotated and sheared, as a detector box or a person
    cutting a plate out frames it. Space outside the crop repeats its edge or is a flat colour
    (a bumper, a frame)."""
    n = len(x)
    angle = _uniform(n, -4, 4, generator) * math.pi / 180
    shear = _uniform(n, -0.08, 0.08, generator)
    # Above 1 the grid covers more than the image: a looser crop.
    scale_x = _uniform(n, 0.85, 1.25, generator)
    scale_y = scale_x * _uniform(n, 0.88, 1.15, generator)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = cos * scale_x
    theta[:, 0, 1] = (-sin + shear) * scale_x
    theta[:, 1, 0] = sin * scale_y
    theta[:, 1, 1] = cos * scale_y
    theta[:, 0, 2] = _uniform(n, -0.08, 0.08, generator)
    theta[:, 1, 2] = _uniform(n, -0.1, 0.1, generator)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    flat = torch.rand(n, generator=generator) < 0.4
    out = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    if flat.any():
        with_mask = torch.cat([x[flat], torch.ones_like(x[flat][:, :1])], dim=1)
        sampled = F.grid_sample(with_mask, grid[flat], padding_mode="zeros", align_corners=False)
        mask = sampled[:, 3:]
        colour = torch.rand(int(flat.sum()), 3, 1, 1, generator=generator) * 0.6
        out[flat] = sampled[:, :3] + colour * (1 - mask)
    return out


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(math.ceil(2 * sigma), 1)
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = x.shape[1]
    horizontal = kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    vertical = kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), horizontal, groups=channels)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), vertical, groups=channels)


def augment(images: torch.Tensor, generator: torch.Generator, share: float) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in [0, 1]; `share` of the images get crop jitter, resolution
    loss, blur, colour, grey and noise. Colour stays near the truth (casts of +-10 %, grey at
    10 %): a plate's colours are much of what names its state."""
    x = images.permute(0, 3, 1, 2).float() / 255.0
    chosen = torch.rand(len(x), generator=generator) < share
    if chosen.any():
        x[chosen] = _distort(x[chosen], generator)
    return x


def _distort(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    n, _, h, w = x.shape
    x = _crop_jitter(x, generator)
    # Distant or small plates: detail lost, then upscaled by the resize.
    low = torch.rand(n, generator=generator) < 0.3
    if low.any():
        factor = float(_uniform(1, 0.25, 0.7, generator))
        small = F.interpolate(x[low], scale_factor=factor, mode="bilinear", antialias=True)
        x[low] = F.interpolate(small, size=(h, w), mode="bilinear")
    blur = torch.rand(n, generator=generator) < 0.2
    if blur.any():
        x[blur] = _gaussian_blur(x[blur], float(_uniform(1, 0.5, 1.5, generator)))
    contrast = _uniform(n, 0.6, 1.3, generator).view(n, 1, 1, 1)
    brightness = _uniform(n, -0.2, 0.2, generator).view(n, 1, 1, 1)
    cast = (torch.rand(n, 3, 1, 1, generator=generator) * 0.2) + 0.9
    saturation = _uniform(n, 0.6, 1.3, generator).view(n, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * contrast + mean + brightness) * cast
    grey = x.mean(dim=1, keepdim=True)
    x = (grey + (x - grey) * saturation).clamp(0, 1)
    x = x ** _uniform(n, 0.75, 1.35, generator).view(n, 1, 1, 1)
    to_grey = torch.rand(n, generator=generator) < 0.1
    x[to_grey] = x[to_grey].mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    noise = torch.rand(n, 1, 1, 1, generator=generator) * 0.04
    return (x + torch.randn(x.shape, generator=generator) * noise).clamp(0, 1)


def _learning_rate(peak: float, progress: float) -> float:
    warmup = 0.03
    if progress < warmup:
        return peak * progress / warmup
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * (progress - warmup) / (1 - warmup))))


@torch.no_grad()
def predict(net: StateNet, images: np.ndarray) -> np.ndarray:
    """Probabilities of uint8 NHWC images, in batches of 256."""
    serving = StateServing(net).eval()
    rows = [
        serving(torch.from_numpy(images[i : i + 256])).numpy() for i in range(0, len(images), 256)
    ]
    return np.concatenate(rows)


def export_onnx(net: StateNet, out_dir: Path, sure_threshold: float) -> Path:
    """Write `state.onnx` with the class codes and the sure threshold in its metadata."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / MODEL_FILE
    serving = StateServing(net).eval()
    example = torch.zeros(1, INPUT_HEIGHT, INPUT_WIDTH, 3, dtype=torch.uint8)
    batch_axis = {0: "batch"}
    torch.onnx.export(
        serving,
        (example,),
        str(model_path),
        input_names=["input"],
        output_names=["state"],
        dynamic_axes={"input": batch_axis, "state": batch_axis},
        opset_version=17,
        # The torch.export-based exporter needs onnxscript, which the train extra does not carry.
        dynamo=False,
    )
    model = onnx.load(str(model_path))
    for key, value in (
        (CLASSES_KEY, ",".join(CLASSES)),
        (SURE_THRESHOLD_KEY, f"{sure_threshold:g}"),
    ):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(model_path))
    return model_path


def verify_export(net: StateNet, model_path: Path, images: np.ndarray) -> float:
    """Largest probability difference between onnxruntime and torch; ModelError past tolerance."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    difference = float(
        np.abs(session.run(["state"], {"input": images})[0] - predict(net, images)).max()
    )
    if difference > EXPORT_TOLERANCE:
        raise ModelError(model_path, f"ONNX output differs from torch by {difference:.2e}")
    return difference


def _accuracy(net: StateNet, images: np.ndarray, labels: np.ndarray) -> float:
    return float((predict(net, images).argmax(axis=1) == labels).mean())


def train_state(config: StateTrainConfig) -> dict[str, object]:
    """Train, choose, export to `config.out_dir`, verify, evaluate; returns (and writes) the
    metrics."""
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    started = time.monotonic()
    deadline = started + config.minutes * 60 * 0.95
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)

    real = load_state_set(config.max_real_per_split)
    if real is None and config.require_real:
        raise InputError(
            "state/us-plates-by-state not found under the shared data folder: a full run "
            "trains on it (set ALPR_SHARED_DATA)"
        )
    non_us = RenderPool(PlateRenderer(config.seed, states=NON_US), config.pool_size)
    synthetic_us = RenderPool(PlateRenderer(config.seed + 1, states=US_STATES), config.pool_size)
    non_us.render(config.initial_renders)
    synthetic_us.render(config.initial_renders)
    # Fixed rendered non-US plates from another seed: how often the model says "not US".
    held_non_us = RenderPool(
        PlateRenderer(config.seed + 7, states=NON_US), config.non_us_validation
    )
    held_non_us.render(config.non_us_validation)
    if real is None:  # smoke run without the data: rendered US plates stand in for every split
        stand_in = RenderPool(PlateRenderer(config.seed + 3, states=US_STATES), 64)
        stand_in.render(64)
        real = dict.fromkeys(("train", "valid", "test"), (stand_in.images, stand_in.labels))
    train_images, train_labels = real["train"]
    valid_images, valid_labels = real["valid"]
    log.info(
        "%d real train crops, %d valid; %d rendered plates in %.0f s",
        len(train_images),
        len(valid_images),
        non_us.size + synthetic_us.size,
        time.monotonic() - started,
    )

    net = StateNet(len(CLASSES), config.width)
    if config.init is not None:
        net.load_state_dict(torch.load(config.init, weights_only=True))
        log.info(
            "fine-tuning from %s (valid %.3f)",
            config.init,
            _accuracy(net.eval(), valid_images, valid_labels),
        )
    net.train()
    ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.998), use_buffers=True)
    optimizer = torch.optim.AdamW(
        net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    non_us_count = max(round(config.batch_size * config.non_us_share), 1)
    synthetic_us_count = round(config.batch_size * config.synthetic_us_share)
    real_count = config.batch_size - non_us_count - synthetic_us_count

    history: list[dict[str, float]] = []
    best: tuple[float, dict] | None = None
    loop_start = time.monotonic()
    next_evaluation = 0.0
    step = seen = 0
    while True:
        elapsed = time.monotonic() - loop_start
        progress = elapsed / max(deadline - loop_start, 1e-6)
        if config.max_steps is not None:
            progress = max(progress, step / config.max_steps)
        finished = progress >= 1
        if (finished or elapsed >= next_evaluation) and step > 0:
            next_evaluation = elapsed + config.evaluate_every_minutes * 60
            accuracy = _accuracy(ema.module.eval(), valid_images, valid_labels)
            history.append({"minutes": round(elapsed / 60, 1), "step": step, "valid": accuracy})
            log.info("step %d valid accuracy %.3f (%.1f min)", step, accuracy, elapsed / 60)
            if progress >= config.select_from and (best is None or accuracy >= best[0]):
                best = (accuracy, copy.deepcopy(ema.module.state_dict()))
        if finished:
            break
        index = rng.integers(0, len(train_images), real_count)
        images_parts = [_jpeg(train_images[index], config.jpeg_share, rng)]
        label_parts = [train_labels[index]]
        for pool, count in ((non_us, non_us_count), (synthetic_us, synthetic_us_count)):
            if count:
                images, labels = pool.batch(count, rng)
                images_parts.append(images)
                label_parts.append(labels)
        x = augment(torch.from_numpy(np.concatenate(images_parts)), gen, config.augment_share)
        y = torch.from_numpy(np.concatenate(label_parts))
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(config.learning_rate, progress)
        net.train()
        loss = F.cross_entropy(net(x), y, label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        optimizer.step()
        ema.update_parameters(net)
        non_us.render(config.renders_per_step)
        synthetic_us.render(config.renders_per_step)
        step += 1
        seen += config.batch_size
        if step % 200 == 0:
            log.info(
                "step %d loss %.3f %.0f img/s %.1f min",
                step,
                loss.item(),
                seen / (time.monotonic() - loop_start),
                (time.monotonic() - loop_start) / 60,
            )
    train_minutes = (time.monotonic() - started) / 60

    final = ema.module.eval()
    if best is not None:
        final.load_state_dict(best[1])
    if config.checkpoint is not None:
        config.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        torch.save(final.state_dict(), config.checkpoint)
    valid_probabilities = predict(final, valid_images)
    valid_truths = [CLASSES[i] for i in valid_labels]
    threshold = choose_sure_threshold(
        valid_truths, valid_probabilities, CLASSES, config.sure_precision
    )
    model_path = export_onnx(final, config.out_dir, threshold)
    difference = verify_export(final, model_path, valid_images[:32])
    classifier = StateClassifier(model_path)
    held_probabilities = predict(final, held_non_us.images)
    metrics: dict[str, object] = {
        "architecture": f"residual CNN, widths {config.width}/{2 * config.width}/"
        f"{4 * config.width}/{6 * config.width}, 2x4 pooled map, linear head",
        "input": f"{INPUT_HEIGHT}x{INPUT_WIDTH} RGB uint8 NHWC",
        "classes": len(CLASSES),
        "parameters": sum(p.numel() for p in final.parameters()),
        "onnx_bytes": model_path.stat().st_size,
        "onnx_max_difference_vs_torch": difference,
        "fine_tuned_from": str(config.init) if config.init else None,
        "steps": step,
        "images_seen": seen,
        "train_minutes": round(train_minutes, 1),
        "real_train_crops": len(train_images),
        "batch": {"real": real_count, "non_us": non_us_count, "synthetic_us": synthetic_us_count},
        "valid_history": history,
        "chosen_valid_accuracy": best[0] if best else None,
        "sure_threshold": threshold,
        "valid": score_states(valid_truths, valid_probabilities, CLASSES, threshold).summary(),
        "rendered_non_us_held_out": {
            "plates": len(held_non_us.images),
            "called_non_us": float(
                np.isin(
                    held_probabilities.argmax(axis=1), [CLASSES.index(c) for c in NON_US]
                ).mean()
            ),
            "right": float((held_probabilities.argmax(axis=1) == held_non_us.labels).mean()),
        },
    }
    ocr = config.ocr_model if config.ocr_model and config.ocr_model.is_file() else None
    reader = PlateReader(ocr, ocr.with_name(OCR_CONFIG_FILE)) if ocr else None

    def read_texts(images: list[np.ndarray]) -> list[str]:
        assert reader is not None
        return [normalise_plate(read.text) for read in reader.read(images)]

    # Measured once, after the model and threshold are chosen: these sets choose nothing.
    evaluations = state_figures(
        classifier,
        shared_data_path(*STATE_SET),
        shared_data_path("real", "us-crops"),
        read_texts if reader is not None else None,
        config.latency_runs,
        config.check_copies,
    )
    for name, evaluation in evaluations.items():
        metrics[name] = evaluation.summary()
        metrics[f"{name} confusions"] = evaluation.confusions
    (config.out_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    log.info("state metrics: %s", metrics)
    return metrics
