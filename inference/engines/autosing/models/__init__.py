"""Assembled models: the two AutoSing stages (one class, ``LMConfig.stage``) and the artist embedder."""
