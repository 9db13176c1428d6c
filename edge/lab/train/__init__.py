"""Training the shipped models (needs the optional `train` extra: torch, onnx)."""

# Peak learning rate of a fine-tune round (`alpr-edge train ocr --init`). It lives here, not in
# the trainer, so the command line can show it without importing torch.
FINE_TUNE_LEARNING_RATE = 2.5e-4
# Share of each fine-tune batch drawn from the labelled real crops: rounds 10 and 11 took 0.8
# (0.3 served while the real labels were pseudo-labels, not read by eye).
FINE_TUNE_REAL_SHARE = 0.8
