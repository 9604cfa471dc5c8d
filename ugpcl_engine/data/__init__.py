"""Training data: slices, normalisation, two-stream sampling, batched augmentation."""
