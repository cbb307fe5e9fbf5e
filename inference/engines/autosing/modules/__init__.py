"""Reusable blocks: attention (KV cache, cached cross-attention), transformer layers."""
