"""The AutoSing-class engine: lyrics + instrumental -> vocal, two transformer stages over SNAC
32 kHz codes (see ``engine.py`` for the flow and ``loaders.py`` for the checkpoint layout).

Layout (audiocraft habit): ``modules/`` reusable blocks, ``models/`` assembled models,
``builders.py`` config -> objects, ``loaders.py`` files -> config + weights, ``patterns.py``
codebook layouts, ``codec.py`` SNAC, ``generate.py`` prefill/decode, ``train.py`` training.
Import the engine from ``inference.engines.autosing.engine`` (kept lazy: torch loads there).
"""
