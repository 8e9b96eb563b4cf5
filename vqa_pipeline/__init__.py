"""vqa_pipeline: turn videos into time-coded, multi-model evidence and answer questions about them."""

__version__ = "0.1.0"
