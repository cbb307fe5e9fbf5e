"""The compose stage without a guide melody: a topline composer that writes a singable melody
for the lyrics over the analysed instrumental. See :func:`compose`."""
from inference.compose.composer import ComposeReport, compose, syllables_for
from inference.compose.plan import SylIn, is_strong, slot_strength

__all__ = ["compose", "ComposeReport", "syllables_for", "SylIn", "is_strong", "slot_strength"]
