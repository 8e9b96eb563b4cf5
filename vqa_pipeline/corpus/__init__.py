"""Synthetic sample corpus with exact ground truth (speech, on-screen text, scenes, sounds, motion)."""
