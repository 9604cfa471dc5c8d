"""Background work for the GUI (QtCore only): the one task runner (file I/O, ranking,
onnxruntime, ONNX export) and the training child's supervisor."""
