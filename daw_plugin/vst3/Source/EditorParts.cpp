#include "EditorParts.h"

namespace topline
{
namespace ui
{
juce::String noteName (int midi)
{
    static const char* names[] = { "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B" };
    return juce::String (names[((midi % 12) + 12) % 12]) + juce::String (midi / 12 - 1);
}

juce::String artistSummary (const juce::var& a)
{
    if (! a.isObject())
        return {};
    juce::String s = a["description"].toString().trim();
    if (s.isNotEmpty() && ! s.endsWithChar ('.'))
        s << ".";
    const auto lang = a["language"].toString();
    if (lang.isNotEmpty())
        s << " Sings " << lang << ".";
    if (auto* r = a["range"].getArray(); r != nullptr && r->size() == 2)
        s << " Range " << noteName ((int) (*r)[0]) << "-" << noteName ((int) (*r)[1]) << ".";
    return s.trim();
}

juce::var findArtist (const juce::var& artists, const juce::String& name)
{
    if (auto* arr = artists.getArray())
        for (auto& a : *arr)
            if (a["name"].toString() == name)
                return a;
    return {};
}

double tempoAt (const juce::var& tempoMap, double qn)
{
    double bpm = 0;
    if (auto* t = tempoMap["tempos"].getArray())
        for (auto& e : *t)
            if (auto* pair = e.getArray(); pair != nullptr && pair->size() == 2 && (double) (*pair)[0] <= qn + 1e-9)
                bpm = (double) (*pair)[1];
    return bpm;
}
} // namespace ui

//======================================================================================== banner
void SidecarBanner::set (const juce::String& st, const juce::String& detail, int artists)
{
    juce::String a = state, b = line1, c = line2;
    state = st;
    if (st == "connected")
    {
        line1 = "Sidecar connected: " + juce::String (artists) + (artists == 1 ? " artist" : " artists");
        line2 = detail;
    }
    else if (st == "starting")
    {
        line1 = "Sidecar starting (" + detail + ")";
        line2 = "Wait a few seconds; if it stays here, look at the output of `topline sidecar`";
    }
    else if (st == "not found")
    {
        line1 = "Sidecar not found: " + detail;
        line2 = "Start it with `topline sidecar` (the plugin finds it by itself)";
    }
    else
    {
        line1 = "Looking for the sidecar...";
        line2 = {};
    }
    if (a != state || b != line1 || c != line2)
        repaint();
}

void SidecarBanner::paint (juce::Graphics& g)
{
    auto r = getLocalBounds().toFloat();
    g.setColour (ui::panel);
    g.fillRoundedRectangle (r, 5.0f);
    const auto colour = state == "connected" ? ui::good : state == "starting" ? ui::warn : ui::bad;
    const float d = juce::jmin (12.0f, r.getHeight() * 0.4f);
    g.setColour (colour);
    g.fillEllipse (r.getX() + 10.0f, r.getCentreY() - d * 0.5f, d, d);
    auto t = getLocalBounds().withTrimmedLeft (30).reduced (4, 2);
    g.setColour (ui::text);
    g.setFont (juce::Font (15.0f, juce::Font::bold));
    g.drawFittedText (line1, t.removeFromTop (t.getHeight() / 2), juce::Justification::centredLeft, 1);
    g.setColour (ui::dim);
    g.setFont (juce::Font (13.0f));
    g.drawFittedText (line2, t, juce::Justification::centredLeft, 1);
}

//======================================================================================== piano roll
void PianoRoll::setScore (const juce::var& score, const juce::String& cap)
{
    notes.clear();
    if (auto* arr = score["notes"].getArray())
        for (auto& n : *arr)
            if (auto* v = n.getArray(); v != nullptr && v->size() >= 4)
                notes.push_back ({ (double) (*v)[0], (double) (*v)[1], (double) (*v)[2], (*v)[3].toString() });
    barQn = 4.0;
    if (auto* m = score["tempo_map"]["meters"].getArray(); m != nullptr && ! m->isEmpty())
        if (auto* first = (*m)[0].getArray(); first != nullptr && first->size() == 3 && (int) (*first)[2] > 0)
            barQn = (int) (*first)[1] * 4.0 / (int) (*first)[2];
    caption = cap;
    repaint();
}

void PianoRoll::paint (juce::Graphics& g)
{
    g.setColour (ui::panel);
    g.fillRoundedRectangle (getLocalBounds().toFloat(), 5.0f);
    auto area = getLocalBounds().reduced (8);
    g.setColour (ui::dim);
    g.setFont (juce::Font (13.0f));
    g.drawText (caption, area.removeFromTop (18), juce::Justification::centredLeft);
    if (notes.empty())
    {
        g.drawFittedText ("Select a take to see the sung melody", area, juce::Justification::centred, 2);
        return;
    }
    double q0 = 1e18, q1 = -1e18, p0 = 1e9, p1 = -1e9;
    for (auto& n : notes)
    {
        q0 = juce::jmin (q0, n.onset);
        q1 = juce::jmax (q1, n.onset + n.duration);
        p0 = juce::jmin (p0, n.pitch);
        p1 = juce::jmax (p1, n.pitch);
    }
    q0 = std::floor (q0 / barQn) * barQn;   // whole bars, from the bar the melody starts in
    q1 = juce::jmax (q0 + barQn, std::ceil (q1 / barQn) * barQn);
    p0 -= 2;
    p1 += 2;
    const auto lyricRow = area.removeFromBottom (16);
    const float w = (float) area.getWidth(), h = (float) area.getHeight();
    auto xAt = [&] (double q) { return (float) area.getX() + (float) ((q - q0) / (q1 - q0)) * w; };
    auto yAt = [&] (double p) { return (float) area.getY() + (float) ((p1 - p) / (p1 - p0)) * h; };
    g.setFont (juce::Font (11.0f));
    for (double b = q0; b <= q1 + 1e-9; b += barQn)
    {
        g.setColour (ui::dim.withAlpha (0.35f));
        g.drawVerticalLine ((int) xAt (b), (float) area.getY(), (float) area.getBottom());
        g.setColour (ui::dim);
        g.drawText (juce::String ((int) std::llround (b / barQn) + 1), (int) xAt (b) + 2, area.getY(), 30, 12,
                    juce::Justification::topLeft);
    }
    const float noteH = juce::jmax (3.0f, h / (float) (p1 - p0) * 0.8f);
    for (auto& n : notes)
    {
        const auto x = xAt (n.onset), x2 = xAt (n.onset + n.duration);
        g.setColour (ui::accent);
        g.fillRoundedRectangle (x, yAt (n.pitch) - noteH * 0.5f, juce::jmax (2.0f, x2 - x - 1.0f), noteH, 2.0f);
        if (n.syllable.isNotEmpty())
        {
            g.setColour (ui::text);
            g.drawText (n.syllable, juce::Rectangle<float> (x, (float) lyricRow.getY(), juce::jmax (24.0f, x2 - x), 16.0f),
                        juce::Justification::centredLeft, false);
        }
    }
}

AuditionBar::AuditionBar()
{
    audition.setTooltip ("The captured section sung by the artist and two others, one clip each, played in place (Ctrl+Shift+Return)");
    audition.onClick = [this] { if (onAudition) onAudition(); };
    hear.setTitle ("Hear");
    hear.setTextWhenNothingSelected ("Audition clips appear here");
    hear.setTextWhenNoChoicesAvailable ("No audition yet");
    hear.onChange = [this] {
        if (onHear)
            onHear (hear.getSelectedId() - 2);   // id 1: the take; id 2 + i: clip i
    };
    addAndMakeVisible (audition);
    addAndMakeVisible (hear);
}

void AuditionBar::update (const juce::Array<juce::var>& clips, int playing, bool running)
{
    juce::StringArray names;
    for (auto& c : clips)
        names.add (c["artist"].toString());
    if (names != shown)
    {
        shown = names;
        hear.clear (juce::dontSendNotification);
        if (! names.isEmpty())
            hear.addItem ("Hear the take", 1);
        for (int i = 0; i < names.size(); ++i)
            hear.addItem ("Hear " + names[i] + " (audition clip " + juce::String (i + 1) + ")", i + 2);
    }
    if (! names.isEmpty())
        hear.setSelectedId (playing + 2, juce::dontSendNotification);
    audition.setEnabled (! running);
}

void AuditionBar::resized()
{
    auto r = getLocalBounds();
    audition.setBounds (r.removeFromLeft (100));
    r.removeFromLeft (6);
    hear.setBounds (r);
}
} // namespace topline
