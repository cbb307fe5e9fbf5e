"""Guide melodies in and sung scores out, as Standard MIDI Files (torch-free; mido).

Reading (:func:`read_melody`) picks the melody track of a guide MIDI, reduces it to one
monophonic line and keeps the file's tempo map, meters and lyric events.

Lyric tokens
------------
``GuideMelody.lyrics`` holds one token per note (or is empty when the file has no lyrics), in
one canonical form whatever convention the file used:

* ``"twin-"``: a syllable whose word continues on the next sung syllable (trailing ``-``);
* ``"kle"``: a syllable that ends its word;
* ``"+"``: a melisma note: the previous syllable's vowel carries on (UltraStar ``~``,
  Vocaloid ``-``, UTAU ``+`` all read as this);
* ``""``: the note had no lyric event.

Files are read with these conventions: trailing ``-`` = the word continues; a token made only
of ``+``, ``~`` or ``-`` = melisma; leading/trailing spaces mark word boundaries (karaoke
``.kar`` and UltraStar style: when any token carries a space, syllables *without* spaces join
into one word); ``/`` or ``\\`` at the start of a token, or ``\\r``/``\\n`` at its end, mark a
new lyric line (``GuideMelody.line_starts``). ``lyrics`` meta events win over ``text`` events;
``text`` events are used only when no ``lyrics`` events exist, ``@`` headers of ``.kar`` files
are skipped, and they are ignored unless most of them coincide with notes.

Writing (:func:`write_score_midi`) emits exactly the canonical tokens above, one ``lyrics``
event per note, so ``read_melody`` round-trips a written score.

The package: :mod:`.guide` (reading a guide melody), :mod:`.conductor` (tempo and meter events,
:func:`read_tempo_map`), :mod:`.lyrics` (lyric events -> canonical tokens), :mod:`.write`
(sung scores out); the public names are re-exported here.
"""
from __future__ import annotations

from host_bridge.core.midi.conductor import MAX_MIDI_BYTES, read_tempo_map
from host_bridge.core.midi.guide import DRUM_CHANNEL, MAX_NOTES, GuideMelody, read_melody
from host_bridge.core.midi.lyrics import MELISMA, canonical_tokens
from host_bridge.core.midi.write import WRITE_TICKS_PER_BEAT, score_lyric_tokens, score_midi_bytes, write_score_midi

__all__ = ["DRUM_CHANNEL", "MAX_MIDI_BYTES", "MAX_NOTES", "MELISMA", "WRITE_TICKS_PER_BEAT", "GuideMelody",
           "canonical_tokens", "read_melody", "read_tempo_map", "score_lyric_tokens", "score_midi_bytes",
           "write_score_midi"]
