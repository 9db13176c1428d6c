"""Train the plate detector in plain PyTorch, export it to ONNX, check the export, write metrics.

`alpr-edge train detector [--minutes N] [--smoke]` runs this. The run is bounded by wall-clock
time (the learning rate follows a cosine over the time budget), uses one torch thread (the OCR
model trains on the other core), and ends by writing `detector.onnx` and `detector_metrics.json`.
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge.lab.shared_data import shared_data_path
from edge.lab.train.detector_data import (
    AugmentConfig,
    Source,
    StreamSource,
    Targets,
    augment,
    load_dashcam,
    load_openimages,
    load_roboflow,
    make_targets,
    pool_source,
    synthetic_scenes,
)
from edge.runtime.detect.detector import (
    INPUT_NAME,
    MAX_SIDE_KEY,
    OUTPUT_NAMES,
    PAD_MULTIPLE,
    PlateDetector,
    letterbox,
)

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

MODEL_FILE = "detector.onnx"
METRICS_FILE = "detector_metrics.json"


@dataclass(frozen=True)
class DetectorTrainConfig:
    out_dir: Path = Path("models")
    minutes: float = 60.0
    max_steps: int | None = None
    batch: int = 16
    learning_rate: float = 3e-3
    seed: int = 0
    width: int = 16
    neck: int = 32
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # Share of each batch drawn from each source when it is available.
    source_weights: dict[str, float] = field(
        default_factory=lambda: {
            "roboflow-plates": 0.4,
            "dashcam-ro": 0.2,
            "openimages-plates": 0.15,
            "synthetic": 0.25,
        }
    )
    # Scenes are rendered at the network's own scale (the letterbox shrinks 1280x720 to this
    # anyway), and each gives several crops: rendering costs ~0.2 s a scene on this machine.
    synthetic_size: tuple[int, int] = (640, 360)
    synthetic_reuse: int = 8
    # Start from these weights (an exported `detector.onnx`) instead of random ones: a
    # fine-tune (its BatchNorms, folded into the convolutions by the export, stay frozen).
    init: Path | None = None

    @classmethod
    def smoke(cls, out_dir: Path) -> DetectorTrainConfig:
        """A few small steps: proves the code path end to end in seconds."""
        return cls(
            out_dir=out_dir,
            minutes=1.0,
            max_steps=3,
            batch=2,
            augment=AugmentConfig(crop=128),
        )


def _sources(config: DetectorTrainConfig) -> dict[str, Source]:
    """Every training source present on this machine, keyed by name."""
    sources: dict[str, Source] = {}
    # A smoke run proves the code path; a few images per set are enough.
    limit = 8 if config.max_steps is not None else None
    roboflow = shared_data_path("detect", "roboflow-plates")
    if roboflow is not None:
        sources["roboflow-plates"] = pool_source(load_roboflow(roboflow, limit))
    dashcam = shared_data_path("detect", "dashcam-ro")
    if dashcam is not None:
        sources["dashcam-ro"] = pool_source(load_dashcam(dashcam, limit))
    openimages = shared_data_path("detect", "openimages-plates")
    if openimages is not None:
        sources["openimages-plates"] = pool_source(load_openimages(openimages, limit))
    scenes = synthetic_scenes(config.seed, *config.synthetic_size)
    sources["synthetic"] = StreamSource(scenes, config.synthetic_reuse)
    return sources


def _batch(
    sources: dict[str, Source],
    weights: np.ndarray,
    rng: np.random.Generator,
    config: DetectorTrainConfig,
) -> tuple[np.ndarray, list[Targets]]:
    names = list(sources)
    images, targets = [], []
    for _ in range(config.batch):
        sample = sources[names[rng.choice(len(names), p=weights)]](rng)
        crop = augment(sample, rng, config.augment)
        images.append(crop.image)
        targets.append(make_targets(crop, config.augment.crop, config.augment.min_visible))
    return np.stack(images), targets


def _stack(targets: list[Targets], name: str) -> torch.Tensor:
    import torch

    return torch.from_numpy(np.stack([getattr(t, name) for t in targets]))


def detector_loss(
    outputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor], targets: list[Targets]
) -> tuple[torch.Tensor, dict[str, float]]:
    """Focal heatmap loss + GIoU box loss + L1 corner loss, CenterNet style."""
    import torch

    logits, log_distances, corners = outputs
    heat = _stack(targets, "heat")
    heat_weight = _stack(targets, "heat_weight")
    reg_weight = _stack(targets, "reg_weight")
    prob = torch.sigmoid(logits[:, 0]).clamp(1e-4, 1 - 1e-4)
    positive = heat.eq(1).float()
    focal_pos = -torch.log(prob) * (1 - prob) ** 2 * positive
    focal_neg = -torch.log(1 - prob) * prob**2 * (1 - heat) ** 4 * (1 - positive)
    num_plates = positive.sum().clamp(min=1)
    heat_loss = ((focal_pos + focal_neg) * heat_weight).sum() / num_plates

    predicted = torch.exp(log_distances.clamp(max=8)) * 4
    target = _stack(targets, "distances")
    pl, pt, pr, pb = predicted.unbind(1)
    tl, tt, tr, tb = target.unbind(1)
    pred_area = (pl + pr) * (pt + pb)
    target_area = (tl + tr) * (tt + tb)
    inter = (torch.minimum(pl, tl) + torch.minimum(pr, tr)) * (
        torch.minimum(pt, tt) + torch.minimum(pb, tb)
    )
    union = pred_area + target_area - inter
    enclosing = (torch.maximum(pl, tl) + torch.maximum(pr, tr)) * (
        torch.maximum(pt, tt) + torch.maximum(pb, tb)
    )
    giou = inter / union - (enclosing - union) / enclosing
    reg_total = reg_weight.sum().clamp(min=1e-6)
    box_loss = ((1 - giou) * reg_weight).sum() / reg_total

    corner_weight = _stack(targets, "corner_weight")
    corner_error = (corners - _stack(targets, "corners")).abs().sum(1)
    corner_loss = (corner_error * corner_weight).sum() / corner_weight.sum().clamp(min=1e-6)

    total = heat_loss + 2.0 * box_loss + 0.5 * corner_loss
    parts = {"heat": heat_loss.item(), "box": box_loss.item(), "corner": corner_loss.item()}
    return total, parts


def _learning_rate(config: DetectorTrainConfig, progress: float) -> float:
    warmup = 0.03
    if progress < warmup:
        return config.learning_rate * (0.1 + 0.9 * progress / warmup)
    return config.learning_rate * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def train_detector(config: DetectorTrainConfig) -> dict:
    """Train, export to `config.out_dir`, verify the ONNX file, and return the metrics."""
    import torch

    from edge.lab.train.detector_model import PlateNet, count_parameters
    from edge.lab.train.frozen import freeze_batch_norm

    torch.set_num_threads(1)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    sources = _sources(config)
    weights = np.array([config.source_weights[name] for name in sources])
    weights /= weights.sum()
    log.info("detector training sources: %s", ", ".join(sources))

    net = PlateNet(config.width, config.neck)
    if config.init is not None:
        load_onnx_weights(net, config.init)
        log.info("fine-tuning from %s", config.init)
    net = net.to(memory_format=torch.channels_last)
    if config.init is not None:
        freeze_batch_norm(net)
    ema = PlateNet(config.width, config.neck)
    ema.load_state_dict(net.state_dict())
    ema.eval()
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    budget = config.minutes * 60
    start = time.monotonic()
    step, images_seen, recent = 0, 0, []
    while True:
        elapsed = time.monotonic() - start
        progress = elapsed / budget
        if progress >= 1 or (config.max_steps is not None and step >= config.max_steps):
            break
        for group in optimiser.param_groups:
            group["lr"] = _learning_rate(config, progress)
        images, targets = _batch(sources, weights, rng, config)
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255)
        x = x.contiguous(memory_format=torch.channels_last)
        loss, parts = detector_loss(net(x), targets)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        optimiser.step()
        _update_ema(ema, net, step)
        step += 1
        images_seen += len(images)
        recent.append(parts)
        if step % 50 == 0:
            means = {k: round(float(np.mean([p[k] for p in recent])), 4) for k in parts}
            recent = []
            log.info(
                "step %d  %.1f min  %.1f img/s  loss %s",
                step,
                elapsed / 60,
                images_seen / max(elapsed, 1e-6),
                means,
            )
    duration = time.monotonic() - start
    config.out_dir.mkdir(parents=True, exist_ok=True)
    model_path = config.out_dir / MODEL_FILE
    export_onnx(ema, model_path, config.augment.max_side)
    parity = verify_onnx(ema, model_path, rng)
    metrics = {
        "architecture": "CenterNet-style, MobileNetV2-like backbone, FPN to stride 4",
        "parameters": count_parameters(ema),
        "input": f"uint8 BGR NHWC, longest side {config.augment.max_side}, "
        f"padded to a multiple of {PAD_MULTIPLE}",
        "onnx_bytes": model_path.stat().st_size,
        "onnx_max_abs_diff": parity,
        "train_minutes": round(duration / 60, 1),
        "train_steps": step,
        "train_crops": images_seen,
        "sources": list(sources),
        "final_loss": {k: round(float(np.mean([p[k] for p in recent])), 4) for k in recent[0]}
        if recent
        else None,
        "config": _jsonable(asdict(config)),
    }
    (config.out_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    log.info("wrote %s (%d bytes) and %s", model_path, metrics["onnx_bytes"], METRICS_FILE)
    return metrics


def load_onnx_weights(net: torch.nn.Module, model_path: Path) -> None:
    """Copy the weights of an exported `detector.onnx` into `net` (same width and neck).

    The export folds each BatchNorm into the convolution before it: those convolutions get the
    folded kernels and biases and their BatchNorms become identities carrying the bias (keep
    them in eval mode while training: `freeze_batch_norm`). The graph lists its convolutions
    in the order the forward pass runs them, which is not the order the modules are declared
    in (the pyramid runs top-down), so that order is taken from a traced forward pass."""
    import onnx
    import torch
    from onnx import numpy_helper

    from edge.errors import ModelError

    graph = onnx.load(str(model_path)).graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    onnx_convs = [node for node in graph.node if node.op_type == "Conv"]
    modules = list(net.modules())
    following = {id(m): modules[i + 1] for i, m in enumerate(modules[:-1])}
    ran: list[torch.nn.Conv2d] = []
    hooks = [
        m.register_forward_hook(lambda module, *_: ran.append(module))
        for m in modules
        if isinstance(m, torch.nn.Conv2d)
    ]
    was_training = net.training
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 3, 64, 64))
    for hook in hooks:
        hook.remove()
    net.train(was_training)
    if len(ran) != len(onnx_convs):
        raise ModelError(model_path, "its convolutions do not match the detector network")
    with torch.no_grad():
        for conv, node in zip(ran, onnx_convs, strict=True):
            kernel = torch.from_numpy(weights[node.input[1]].copy())
            bias = torch.from_numpy(weights[node.input[2]].copy()) if len(node.input) > 2 else None
            if kernel.shape != conv.weight.shape:
                raise ModelError(model_path, f"a kernel of {tuple(kernel.shape)} does not fit")
            conv.weight.copy_(kernel)
            norm = following.get(id(conv))
            if isinstance(norm, torch.nn.BatchNorm2d) and conv.bias is None:
                norm.weight.fill_(1.0)
                norm.bias.copy_(bias if bias is not None else torch.zeros_like(norm.bias))
                norm.running_mean.zero_()
                norm.running_var.fill_(1.0 - norm.eps)
            elif conv.bias is not None and bias is not None:
                conv.bias.copy_(bias)


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value) if isinstance(value, Path) else value


def _update_ema(ema: torch.nn.Module, net: torch.nn.Module, step: int) -> None:
    import torch

    decay = min(0.998, (1 + step) / (10 + step))
    with torch.no_grad():
        for average, current in zip(
            ema.state_dict().values(), net.state_dict().values(), strict=True
        ):
            if average.dtype.is_floating_point:
                average.mul_(decay).add_(current.detach(), alpha=1 - decay)
            else:
                average.copy_(current)


def export_onnx(net: torch.nn.Module, path: Path, max_side: int) -> None:
    """Write the uint8-in, decoded-maps-out graph with dynamic height and width."""
    import onnx
    import torch

    from edge.lab.train.detector_model import ExportedDetector

    exported = ExportedDetector(net).eval()
    example = torch.zeros(1, max_side // 2, max_side, 3, dtype=torch.uint8)
    # The TorchScript exporter is deprecated, but it needs no onnxscript and handles this graph.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            exported,
            (example,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={INPUT_NAME: {0: "batch", 1: "height", 2: "width"}},
            opset_version=17,
            dynamo=False,
        )
    model = onnx.load(str(path))
    entry = model.metadata_props.add()
    entry.key, entry.value = MAX_SIDE_KEY, str(max_side)
    model.producer_name = "alpr-edge train detector"
    onnx.save(model, str(path))


def verify_onnx(net: torch.nn.Module, path: Path, rng: np.random.Generator) -> float:
    """Run torch and onnxruntime on the same frames; raise if they disagree. Returns max diff."""
    import torch

    from edge.lab.train.detector_model import ExportedDetector

    detector = PlateDetector(path)
    exported = ExportedDetector(net).eval()
    worst = 0.0
    for height, width in ((720, 1280), (480, 360)):
        frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        image = letterbox(frame, detector.max_side).image[None]
        with torch.no_grad():
            expected = [t.numpy() for t in exported(torch.from_numpy(image))]
        got = detector.infer(image)
        for name, want, have in zip(OUTPUT_NAMES, expected, got, strict=True):
            if name == "heatmap":
                # Near-flat regions may keep a different cell of a float tie as the local
                # maximum; what matters is that every plate-like peak is the same.
                confident = np.maximum(want, have) >= 0.05
                want, have = want[confident], have[confident]
            if want.size == 0:
                continue
            scale = max(1.0, float(np.abs(want).max()))
            diff = float(np.abs(want - have).max()) / scale
            if diff > 1e-3:
                raise RuntimeError(f"ONNX output {name} differs from torch by {diff:.2e}")
            worst = max(worst, diff)
    return worst
