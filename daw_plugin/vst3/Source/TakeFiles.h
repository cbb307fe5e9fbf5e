// Take files: the stem the musician drags onto a track, and reading it back when a project reopens.
// Same layout and numbering as host_bridge/takes.py: "<folder>/take-0007.wav" (float32 WAV whose
// BWF time reference is the take's session position in samples) beside "take-0007.json".
#pragma once
#include <juce_audio_formats/juce_audio_formats.h>

namespace topline::takes
{
juce::File defaultFolder();

/** Writes take-NNNN.wav (+ .json holding ``metadata``) into ``folder`` under the first free number;
    the number is claimed by creating the JSON exclusively, the WAV appears last (renamed into place).
    Returns the WAV, or an empty File with ``error`` set. */
juce::File write (const juce::File& folder, const juce::AudioBuffer<float>& audio, double sampleRate,
                  juce::int64 startSample, const juce::var& metadata, juce::String& error);

/** Reads a take WAV; false with ``error`` set if it cannot be read. */
bool read (const juce::File& wav, juce::AudioBuffer<float>& audio, double& sampleRate, juce::String& error);

/** Resamples every channel of ``in`` from ``fromRate`` to ``toRate`` (4-point Lagrange, no delay). */
juce::AudioBuffer<float> resample (const juce::AudioBuffer<float>& in, double fromRate, double toRate);
} // namespace topline::takes
