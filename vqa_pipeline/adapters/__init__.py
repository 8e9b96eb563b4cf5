"""Trainable adapters that feed non-text window features to the LLM as soft tokens."""
