from pathlib import Path

import pytest

from edge.config import describe, load_config
from edge.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path, text):
    path = tmp_path / "edge.toml"
    path.write_text(text)
    return path


def test_shipped_example_config_loads_and_every_key_is_commented():
    config = load_config(REPO / "config" / "edge.toml")
    assert config.detector.model == REPO / "models" / "detector.onnx"
    lines = (REPO / "config" / "edge.toml").read_text().splitlines()
    for number, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#"):
            before = lines[number - 1].strip()
            assert before.startswith("#") or "#" in line, f"key without comment: {line}"


def test_missing_sections_take_documented_defaults_and_paths_resolve_beside_the_file(tmp_path):
    config = load_config(write(tmp_path, '[camera]\nid = "north"\n'))
    assert config.camera.id == "north"
    assert config.track.repeat_window_s == 30.0
    assert config.store.data_dir == tmp_path / "data"
    assert config.sharing is None


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("[track]\nrepeat_window_s = -1\n", "track.repeat_window_s", "must be >= 0"),
        ('[detector]\nthreads = "two"\n', "detector.threads", "whole number"),
        ("[motion]\nzones = [[[0, 0], [10, 0]]]\n", "motion.zones", "at least 3"),
        ("[camera]\nsauce = 1\n", "camera.sauce", "unknown key"),
        ("[cameras]\n", "cameras", "unknown section"),
        # An older release's key says where it went, not merely that it is unknown.
        ("[sharing]\nretention_days = 30\n", "sharing.retention_days", "[store] retention_days"),
        ("[hotlist]\nmax_confusions = 9\n", "hotlist.max_confusions", "must be in [0, 3]"),
        ("[ocr]\ncrop_margins = []\n", "ocr.crop_margins", "non-empty list of numbers"),
        ("[ocr]\nstill_crop_margins = [0.06, 0.9]\n", "ocr.still_crop_margins", "[0, 0.5]"),
        ("[ocr]\nexpected_regions = ['BR', 'XX']\n", "ocr.expected_regions", "unknown region 'XX'"),
        ("[ocr]\nplate_crop_views = [[0, -0.6]]\n", "ocr.plate_crop_views", "[-0.25, 0.5]"),
        ("[ocr]\nplate_crop_views = [[0, 0, 1]]\n", "ocr.plate_crop_views", "pair of numbers"),
        ("[ocr]\nplate_crop_views = []\n", "ocr.plate_crop_views", "at least one view"),
        ("[ocr]\nmin_characters = 0\n", "ocr.min_characters", "must be >= 1"),
    ],
)
def test_errors_name_the_file_the_key_and_the_reason(tmp_path, text, key, reason):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert (error.value.file, error.value.key) == (str(path), key)
    assert reason in error.value.reason
    assert error.value.exit_code == 2


def test_every_key_has_a_description():
    text = describe()
    assert "[camera]" in text and "repeat_window_s" in text
    assert all(line.strip() for line in text.splitlines())


def test_the_example_sharing_table_names_every_sharing_key_and_loads(tmp_path):
    """The commented [sharing] example in config/edge.toml stays in step with the schema."""
    import dataclasses
    import re

    from edge.config import SharingConfig

    text = (REPO / "config" / "edge.toml").read_text()
    block = text[text.index("# [sharing]\n") :]
    lines = []
    for line in block.splitlines():
        if not line.startswith("# ") or not re.match(r"# (\[sharing\]|\w+ = )", line):
            break
        lines.append(line[2:])
    example = {line.split("=")[0].strip() for line in lines[1:]}
    assert example == {f.name for f in dataclasses.fields(SharingConfig)}
    config = tmp_path / "edge.toml"
    config.write_text("\n".join(lines) + "\n")
    assert load_config(config).sharing is not None


def test_config_describe_lists_every_section_sharing_included():
    text = describe()
    for section in ("[camera]", "[ocr]", "[store]", "[sharing]"):
        assert section in text
    assert "agencies_file (Path, required)" in text and "retention_days (int, default 30)" in text
