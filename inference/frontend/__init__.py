"""Text front end: lyrics -> phones (espeak-ng) -> syllables -> one syllable per note."""
