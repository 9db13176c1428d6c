"""A named execution provider that is misspelt or not installed is a config error, unless the
config lists an available fallback; the chain in use is logged."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from edge.config import load_config
from edge.errors import ConfigError
from edge.runtime.pipeline.components import open_detector, usable_providers

ROOT = Path(__file__).resolve().parents[1]
KNOWN = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
CPU_ONLY = ["CPUExecutionProvider"]


@pytest.fixture
def config():
    return load_config(ROOT / "config" / "edge.toml")


def test_a_misspelt_provider_is_a_config_error_even_with_a_fallback(config):
    with pytest.raises(ConfigError, match=r"detector.providers: unknown execution provider"):
        usable_providers(config, "detector", ["CUDAExecutionProvder", *CPU_ONLY], CPU_ONLY, KNOWN)


def test_a_provider_not_installed_without_a_fallback_is_a_config_error(config):
    with pytest.raises(ConfigError, match="TensorrtExecutionProvider not available"):
        usable_providers(config, "ocr", ["TensorrtExecutionProvider"], CPU_ONLY, KNOWN)


def test_a_listed_fallback_is_used_and_the_chain_is_logged(config, caplog):
    wanted = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    with caplog.at_level(logging.INFO):
        assert usable_providers(config, "detector", wanted, CPU_ONLY, KNOWN) == tuple(CPU_ONLY)
        assert usable_providers(config, "ocr", CPU_ONLY, CPU_ONLY, KNOWN) == tuple(CPU_ONLY)
    assert "TensorrtExecutionProvider, CUDAExecutionProvider not available here" in caplog.text
    assert "ocr: execution providers CPUExecutionProvider" in caplog.text


def test_the_detector_is_not_opened_on_a_provider_this_machine_lacks(tmp_path):
    import onnxruntime

    if "TensorrtExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this machine has TensorRT")
    path = tmp_path / "edge.toml"
    path.write_text(
        f'[detector]\nmodel = "{ROOT / "models" / "detector.onnx"}"\n'
        'providers = ["TensorrtExecutionProvider"]\n'
    )
    with pytest.raises(ConfigError, match="install the build that has it or list a fallback"):
        open_detector(load_config(path))
