"""Adapters between Topline and the DAWs it sings into (one subpackage per DAW)."""
