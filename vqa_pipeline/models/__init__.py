"""Model files the project builds itself (TF.js graph models converted to ONNX, their cache)."""
