// Pieces of the editor that draw themselves: the sidecar banner (always visible, with the fix),
// the piano roll of a take's sung melody (the lyric under each note), and small text helpers.
#pragma once
#include <juce_gui_basics/juce_gui_basics.h>

namespace topline
{
namespace ui
{
const juce::Colour background { 0xff1d2126 }, panel { 0xff262b31 }, text { 0xffe8eaed }, dim { 0xff9aa3ad },
    accent { 0xff4d9de0 }, good { 0xff4caf50 }, warn { 0xffe0a030 }, bad { 0xffe05050 };

/** "C4" for MIDI 60. */
juce::String noteName (int midi);
/** "Description. Language en-us, range C3-G4." from one entry of the sidecar's artists reply. */
juce::String artistSummary (const juce::var& artist);
/** The entry named ``name`` in the artists reply, or void. */
juce::var findArtist (const juce::var& artists, const juce::String& name);
/** Tempo (BPM) of a Topline tempo map ({"tempos": [[qn, bpm], ...]}) at quarter note ``qn``; 0 if none. */
double tempoAt (const juce::var& tempoMap, double qn);
} // namespace ui

/** Sidecar state, always on screen: a coloured dot, what is going on, and what to do about it. */
class SidecarBanner final : public juce::Component
{
public:
    void set (const juce::String& state, const juce::String& detail, int artists);
    juce::String headline() const { return line1; }
    juce::String fix() const { return line2; }
    void paint (juce::Graphics&) override;

private:
    juce::String state, line1, line2;
};

/** One-click audition of the capture: the Audition button, and a menu of the clips that came
    back (one per artist; the one chosen plays through the plugin in place of the take). */
class AuditionBar final : public juce::Component
{
public:
    AuditionBar();
    std::function<void()> onAudition;
    std::function<void (int)> onHear;   // a clip's index, or -1: the take again
    /** ``clips``: [{artist, wav, start_sample, ...}] of the last audition; ``playing``: its index or -1. */
    void update (const juce::Array<juce::var>& clips, int playing, bool running);
    juce::Button& button() { return audition; }
    juce::ComboBox& menu() { return hear; }
    void resized() override;

private:
    juce::TextButton audition { "Audition" };
    juce::ComboBox hear;
    juce::StringArray shown;
};

/** The sung melody of one take over its bars: one box per note (pitch vertical), the lyric
    syllable under it, bar lines from the score's meter. */
class PianoRoll final : public juce::Component
{
public:
    /** ``score``: Score.to_dict() ({"notes": [[onset, duration, pitch, syllable, ...]], "tempo_map"}). */
    void setScore (const juce::var& score, const juce::String& caption);
    int numNotes() const { return (int) notes.size(); }
    void paint (juce::Graphics&) override;

private:
    struct Note
    {
        double onset, duration, pitch;
        juce::String syllable;
    };
    std::vector<Note> notes;
    double barQn = 4.0;
    juce::String caption;
};
} // namespace topline
