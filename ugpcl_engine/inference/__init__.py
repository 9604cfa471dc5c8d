"""Inference: the export wrapper, ONNX export, onnxruntime and torch segmenters."""
