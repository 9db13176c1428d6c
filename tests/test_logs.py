"""Nothing secret in logs: URL credentials and secret parameters masked in every record."""

import json
import logging

from edge.logs import JsonFormatter, RedactingFilter, fatal, redact


def test_credentials_in_urls_and_secret_parameters_are_masked():
    assert redact("rtsp://admin:hunter2@10.0.0.5:554/s1") == "rtsp://***@10.0.0.5:554/s1"
    assert (
        redact("http://token@cam/feed?user=a&password=pw1")
        == "http://***@cam/feed?user=a&password=***"
    )
    assert redact("clip.mp4 at 3 fps") == "clip.mp4 at 3 fps"


def test_every_record_is_masked_in_its_message_arguments_and_fields():
    record = logging.LogRecord(
        "x", logging.WARNING, "f", 1, "lost %s", ("rtsp://u:p4ss@cam/",), None
    )
    record.source = "rtsp://u:p4ss@cam/"
    assert RedactingFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "p4ss" not in line
    entry = json.loads(line)
    assert entry["message"] == "lost rtsp://***@cam/" and entry["source"] == "rtsp://***@cam/"


def test_a_fatal_error_under_json_is_one_json_line(capsys):
    import io

    out = io.StringIO()
    fatal("error: cannot open rtsp://a:b@c/", "json", out, exit_code=2)
    entry = json.loads(out.getvalue())
    assert entry["message"] == "error: cannot open rtsp://***@c/" and entry["exit_code"] == 2
