"""Train the plate reader, export it to ONNX, check the export and write its figures.

Plain PyTorch on one thread (the machine's other core trains the detector). Synthetic plates
come fresh all the time from `edge.lab.synth.plates`; from a third of the budget on, real crops from
the MIT-licensed detection sets join each batch once our model and PP-OCR agree on their text
(see `edge.lab.train.ocr_real`), and the labelling repeats as the model improves.
"""

from __future__ import annotations

import io
import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F
import yaml
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from edge.errors import ModelError
from edge.lab.evaluation.ocr import evaluate_us_crops
from edge.lab.shared_data import shared_data_dir, shared_data_path
from edge.lab.synth.plates import PlateRenderer
from edge.lab.train import FINE_TUNE_LEARNING_RATE, FINE_TUNE_REAL_SHARE
from edge.lab.train.frozen import freeze_batch_norm
from edge.lab.train.ocr_data import (
    UNKNOWN_REGION,
    LabelledCrop,
    LetterBalancedRenderer,
    SamplePool,
    augment,
    concat_batches,
    plate_config,
)
from edge.lab.train.ocr_model import OcrModelShape, PlateOcrNet, ServingWrapper
from edge.lab.train.ocr_real import PseudoLabeller, load_checked_labels, mit_crops
from edge.lab.train.ocr_teacher import PaddleTeacher, teacher_model_path
from edge.lab.train.state_set_text import STATE_SET, state_set_crops
from edge.plates.regions import REGION_CODES
from edge.plates.text import normalise_plate
from edge.runtime.recognise import PlateReader
from edge.runtime.recognise.decoding import greedy
from edge.runtime.recognise.preprocess import to_model_input

log = logging.getLogger(__name__)

MODEL_FILE = "ocr.onnx"
CONFIG_FILE = "ocr_plate_config.yaml"
METRICS_FILE = "ocr_metrics.json"
# Metadata keys of an exported model's depth (`PlateOcrNet` blocks per stage, encoder layers).
DEPTH_KEYS = ("ocr_blocks_per_stage", "ocr_encoder_layers")
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
    # Share of each batch drawn from labelled real crops once there are some. Every MIT crop's
    # label is read by eye (`checked_labels`), so real crops need no trained model to label them
    # and join once the plain first tenth is over (see models/README.md for what that reads).
    real_share: float = 0.5
    # When (as shares of the training time) real crops are (re)labelled.
    pseudo_label_at: tuple[float, ...] = (0.1, 0.55)
    max_steps: int | None = None
    max_real_crops: int | None = None
    validation_size: int = 1_000
    learning_rate: float = 1e-3
    # Extra augmentation starts after this share of the time, on `augment_share` of each batch.
    plain_until: float = 0.1
    augment_share: float = 0.5
    # Share of rendered crops that hold text but no plate: the model learns to read nothing.
    negative_rate: float = 0.03
    # Share of rendered plates that are vanity texts rich in the letters serials rarely print
    # (see `edge.lab.train.ocr_data.RARE_LETTER_WEIGHTS`).
    rare_letter_rate: float = 0.2
    # Also take PP-OCR's read alone when at least this confident and a state's serial layout.
    teacher_alone: float | None = None
    # Real crops a person has read (see `edge.lab.train.ocr_real.load_checked_labels`).
    checked_labels: Path | None = Path("models/real-crop-labels.csv")
    # Text labels of `state/us-plates-by-state` crops from two agreeing readers (see
    # `edge.lab.train.state_set_text`): those crops join the real ones, each with its state.
    state_set_labels: Path | None = None
    # At most this many of them (a seeded random choice), so they do not crowd out the MIT
    # crops, the only real European ones; None = all.
    max_state_set_crops: int | None = None
    # Whether their states train the region head. Off, the head learns regions as before
    # (rendered plates, the dash-cam's EU): trained on thousands of real US plates and no real
    # Brazilian one, it called Brazilian plates US states and lost Brazil's formats (round 12).
    state_set_regions: bool = True
    # The share of each batch's real part drawn from the state set's crops, from a pool of
    # their own (the rest from the MIT crops'); None = one pool, each crop as likely.
    state_set_share: float | None = None
    # The share of rendered plates from regions outside the US (EU, UK, BR...); None keeps the
    # renderer's California-first weights (about 4 % outside the US).
    outside_us_share: float | None = None
    # Crops of each MIT plate cut with a detector's slack besides its tight one (each keeps
    # the plate's label; `edge.lab.train.ocr_real.SLACK_X`); 0 = the tight crop only.
    slack_crops: int = 0
    # Start from these weights (an exported `ocr.onnx`) instead of random ones: a fine-tune.
    init: Path | None = None
    # Residual blocks after each downsampling stage and transformer layers over the columns;
    # None = as many as `init` has (1 each for a fresh run). More than `init` has grows it:
    # the new ones start as identities (`PlateOcrNet`).
    blocks_per_stage: int | None = None
    encoder_layers: int | None = None
    threads: int = 1
    seed: int = 0
    # The closing `real/us-crops` figures: timed runs per latency median, and how many crops
    # (spread over the set; None = all): a smoke run only proves the figures are written.
    latency_runs: int = 200
    evaluation_crops: int | None = None

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
            latency_runs=3,
            evaluation_crops=24,
        )

    @classmethod
    def fine_tune(
        cls,
        out_dir: Path,
        minutes: float,
        init: Path,
        threads: int = 1,
        learning_rate: float = FINE_TUNE_LEARNING_RATE,
        real_share: float = FINE_TUNE_REAL_SHARE,
    ) -> OcrTrainConfig:
        """A shorter round from a trained model: lower peak rate, real crops labelled from the
        start (the model already reads), looser format-checked pseudo-labels, rare letters."""
        return cls(
            out_dir=out_dir,
            minutes=minutes,
            init=init,
            threads=threads,
            learning_rate=learning_rate,
            pseudo_label_at=(0.0, 0.5),
            plain_until=0.0,
            real_share=real_share,
            teacher_alone=0.9,
            initial_renders=8_000,
            seed=1,
        )


def onnx_depth(model_path: Path) -> tuple[int, int]:
    """(blocks per stage, encoder layers) of an exported `ocr.onnx`: from the metadata the
    exporter writes, or, in files from before it did (every shipped round to 15A), from the
    count of their weights."""
    import onnx

    return _depth(onnx.load(str(model_path)), model_path)


def _depth(model: Any, model_path: Path) -> tuple[int, int]:
    """`onnx_depth` of a loaded `onnx.ModelProto`."""
    props = {p.key: p.value for p in model.metadata_props}
    if all(key in props for key in DEPTH_KEYS):
        try:
            blocks, layers = (int(props[key]) for key in DEPTH_KEYS)
        except ValueError:
            raise ModelError(model_path, f"its depth metadata is not a number: {props}") from None
        return blocks, layers
    names = [i.name for i in model.graph.initializer]
    # Each convolution leaves a folded kernel and bias: 4 downsampling ones, 2 per block.
    pairs = sum(n.startswith("onnx::Conv_") for n in names) // 2
    # MatMuls: the token projection, 3 per encoder layer, the character head.
    matmuls = sum(n.startswith("onnx::MatMul_") for n in names)
    if pairs < 10 or (pairs - 4) % 6 or matmuls < 5 or (matmuls - 2) % 3:
        raise ModelError(model_path, "its layers do not match the OCR network")
    return (pairs - 4) // 6, (matmuls - 2) // 3


def load_onnx_weights(net: PlateOcrNet, model_path: Path) -> None:
    """Copy the weights of an exported `ocr.onnx` into `net` (same shape and width, as deep
    or deeper: a deeper net's extra blocks and layers keep their identity start).

    The exporter folds each BatchNorm into the convolution before it, so the convolutions get
    the folded kernels and their BatchNorms become identities carrying the folded bias; keep
    those BatchNorms in eval mode while training (`freeze_batch_norm`)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(model_path))
    blocks, layers = _depth(model, model_path)
    if blocks > net.blocks_per_stage or layers > net.encoder_layers:
        raise ModelError(
            model_path,
            f"has {blocks} blocks per stage and {layers} encoder layers, more than the network "
            f"being trained ({net.blocks_per_stage} and {net.encoder_layers})",
        )
    graph = model.graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}

    def tensor(name: str) -> torch.Tensor:
        return torch.from_numpy(weights[name].copy())

    with torch.no_grad():
        # Named parameters kept their torch names ("net." + name).
        for name, param in net.named_parameters():
            if f"net.{name}" in weights:
                param.copy_(tensor(f"net.{name}"))

        # Folded conv kernels and biases, in graph order; then the MatMul weights (transposed).
        def order(name: str) -> int:
            return int(name.rsplit("_", 1)[1])

        convs = sorted((n for n in weights if n.startswith("onnx::Conv_")), key=order)
        matmuls = sorted((n for n in weights if n.startswith("onnx::MatMul_")), key=order)
        pairs = net.conv_norm_pairs(blocks)
        if len(convs) != 2 * len(pairs):
            raise ModelError(model_path, "its convolutions do not match the OCR network")
        for (conv, norm), kernel, bias in zip(pairs, convs[0::2], convs[1::2], strict=True):
            if conv.weight.shape != weights[kernel].shape:
                raise ModelError(model_path, "its convolutions do not match the OCR network")
            conv.weight.copy_(tensor(kernel))
            norm.weight.fill_(1.0)
            norm.bias.copy_(tensor(bias))
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)
        linears = net.linear_weights(layers)
        if len(matmuls) != len(linears):
            raise ModelError(model_path, "its linear layers do not match the OCR network")
        for param, name in zip(linears, matmuls, strict=True):
            param.copy_(tensor(name).T)


def _renders(
    renderer: PlateRenderer | LetterBalancedRenderer, count: int
) -> Iterator[LabelledCrop]:
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
    exported = io.BytesIO()
    torch.onnx.export(
        wrapper,
        (example,),
        exported,
        input_names=["input"],
        output_names=["plate", "region"],
        dynamic_axes={"input": batch_axis, "plate": batch_axis, "region": batch_axis},
        opset_version=17,
        # The torch.export-based exporter needs onnxscript, which the train extra does not carry.
        dynamo=False,
    )
    # The depth travels in the file, so a later fine-tune builds the same network: counting
    # weights cannot tell it, as the exporter merges weights that are equal (fresh blocks).
    import onnx

    model = onnx.load_model_from_string(exported.getvalue())
    onnx.helper.set_model_props(
        model,
        {DEPTH_KEYS[0]: str(net.blocks_per_stage), DEPTH_KEYS[1]: str(net.encoder_layers)},
    )
    onnx.save(model, str(model_path))
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
        normalise_plate(r.text, pool_o_zero=True) == normalise_plate(c.text, pool_o_zero=True)
        for r, c in zip(reads, validation, strict=True)
    )
    return right / len(validation)


def _real_pools(
    labelled: list[LabelledCrop], shape: OcrModelShape, state_set_share: float | None
) -> tuple[SamplePool | None, SamplePool | None]:
    """The real crops as one pool, or (with `state_set_share`) the MIT crops' and the state
    set's apart, so that a batch takes a fixed share from each whatever their sizes."""

    def pool(crops: list[LabelledCrop]) -> SamplePool | None:
        if not crops:
            return None
        made = SamplePool(len(crops), shape)
        made.extend(crops)
        return made

    if state_set_share is None:
        return pool(labelled), None
    others = [c for c in labelled if c.source != STATE_SET]
    state = [c for c in labelled if c.source == STATE_SET]
    if not others or not state:  # one source only: one pool
        return pool(labelled), None
    return pool(others), pool(state)


def train_ocr(config: OcrTrainConfig) -> dict[str, object]:
    """Train, export to `config.out_dir`, verify, evaluate; returns (and writes) the metrics."""
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    started = time.monotonic()
    deadline = started + config.minutes * 60 * 0.95
    shape = OcrModelShape(regions=REGION_CODES)
    renderer = LetterBalancedRenderer(
        PlateRenderer(
            config.seed,
            negative_rate=config.negative_rate,
            outside_us_share=config.outside_us_share,
        ),
        config.rare_letter_rate,
    )
    validation = list(_renders(PlateRenderer(config.seed + 1_000_000), config.validation_size))
    synth = SamplePool(config.pool_size, shape)
    synth.extend(_renders(renderer, config.initial_renders))
    log.info("rendered %d plates in %.0f s", synth.size, time.monotonic() - started)

    blocks, layers = onnx_depth(config.init) if config.init is not None else (1, 1)
    net = PlateOcrNet(
        shape,
        width=24,
        blocks_per_stage=config.blocks_per_stage or blocks,
        encoder_layers=config.encoder_layers or layers,
    )
    if config.init is not None:
        load_onnx_weights(net, config.init)
        probe = np.stack([to_model_input(c.image, plate_config(shape)) for c in validation[:16]])
        net.eval()
        verify_export(net, config.init, probe)
        log.info("fine-tuning from %s (weights checked against it)", config.init)
    net.train()
    if config.init is not None:
        freeze_batch_norm(net)
    ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.998), use_buffers=True)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=0.02)
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)

    crops = mit_crops(shared_data_dir(), config.max_real_crops, config.slack_crops)
    checked = load_checked_labels(config.checked_labels) if config.checked_labels else {}
    state_set = shared_data_path("state", "us-plates-by-state")
    if config.state_set_labels is not None and state_set is not None:
        labels = load_checked_labels(config.state_set_labels)
        limit = config.max_real_crops or config.max_state_set_crops
        if limit is not None and limit < len(labels):
            keys = sorted(labels)
            chosen = np.random.default_rng(config.seed).choice(len(keys), limit, replace=False)
            labels = {keys[i]: labels[keys[i]] for i in sorted(chosen)}
        crops += list(state_set_crops(state_set, labels, with_regions=config.state_set_regions))
        checked = {**checked, **labels}
        log.info("%d labelled crops from %s", len(labels), state_set)
    teacher_path = teacher_model_path()
    if crops and teacher_path is None:
        log.warning("rapidocr-onnxruntime is not installed: no pseudo-labels, checked crops only")
    labeller: PseudoLabeller | None = None
    real: SamplePool | None = None
    state_pool: SamplePool | None = None
    milestones = list(config.pseudo_label_at) if crops else []

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
            labeller = labeller or PseudoLabeller(
                crops,
                PaddleTeacher(teacher_path) if teacher_path else None,
                config.teacher_alone,
                checked,
            )
            labelled = labeller.label(_Student(ema.module))
            # Each labelling round also leaves a usable model behind, in case the run is cut short.
            export_onnx(ema.module, shape, config.out_dir)
            net.train()
            if config.init is not None:
                freeze_batch_norm(net)
            real, state_pool = _real_pools(labelled, shape, config.state_set_share)
        real_count = round(config.batch_size * config.real_share) if real else 0
        parts = [synth.batch(config.batch_size - real_count, rng)]
        if real is not None and real_count:
            from_state = 0
            if state_pool is not None and config.state_set_share is not None:
                from_state = round(real_count * config.state_set_share)
                parts.append(state_pool.batch(from_state, rng))
            if real_count - from_state:
                parts.append(real.batch(real_count - from_state, rng))
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
        "architecture": (
            f"residual CNN ({net.blocks_per_stage} blocks per stage) + {net.encoder_layers} "
            "transformer layer(s), 32 CTC columns collapsed to 9 slots"
        ),
        "blocks_per_stage": net.blocks_per_stage,
        "encoder_layers": net.encoder_layers,
        "input": f"{shape.img_height}x{shape.img_width} RGB uint8",
        "parameters": sum(p.numel() for p in final.parameters()),
        "onnx_bytes": model_path.stat().st_size,
        "onnx_max_difference_vs_torch": difference,
        "fine_tuned_from": str(config.init) if config.init else None,
        "steps": step,
        "images_seen": seen,
        "train_minutes": round(train_minutes, 1),
        "real_labelled": (real.size if real else 0) + (state_pool.size if state_pool else 0),
        "real_with_given_labels": len(labeller.checked) if labeller else 0,
        "synthetic_validation_exact": _synthetic_exact(reader, validation),
    }
    us_crops = shared_data_path("real", "us-crops")
    if us_crops is not None:
        evaluation = evaluate_us_crops(
            reader, us_crops, config.latency_runs, limit=config.evaluation_crops
        )
        metrics["real_us_crops"] = evaluation.summary()
    (config.out_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    log.info("OCR metrics: %s", metrics)
    return metrics
