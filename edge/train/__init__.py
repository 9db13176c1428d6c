"""Training the shipped models (needs the optional `train` extra: torch, onnx)."""

# Peak learning rate of a fine-tune round (`alpr-edge train ocr --init`). It lives here, not in
# the trainer, so the command line can show it without importing torch.
FINE_TUNE_LEARNING_RATE = 2.5e-4
# Share of each fine-tune batch drawn from the labelled real crops.
FINE_TUNE_REAL_SHARE = 0.3
