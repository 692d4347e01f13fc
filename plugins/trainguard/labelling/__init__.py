"""Labelling of generated content (Art. 16; GB 45438-2025): explicit and implicit labels."""

from trainguard.labelling.aigc import FIELDS, LabelledText, label_text, verify_label

__all__ = ["FIELDS", "LabelledText", "label_text", "verify_label"]
