// The editor's account of what it shows ($TOPLINE_EDITOR_STATE): a JSON file rewritten when its
// content changes, read by the tests (and support) instead of guessing from pixels.
#include "PluginEditor.h"

namespace topline
{
void ToplineEditor::writeStateFile (const Status& st, const Settings& s)
{
    auto* o = new juce::DynamicObject();
    o->setProperty ("sidecar_state", st.sidecarState);
    o->setProperty ("banner", banner.headline());
    o->setProperty ("banner_fix", banner.fix());
    o->setProperty ("artists", st.artists);
    o->setProperty ("artist", s.artist);
    o->setProperty ("artist_info", artistInfo.getText());
    o->setProperty ("language", s.language);
    o->setProperty ("progress", progress);
    o->setProperty ("status", status.getText());
    o->setProperty ("phrase", phrase.getText());
    o->setProperty ("message", message.getText());
    juce::Array<juce::var> takes;
    for (auto& t : takeList.takes())
    {
        auto* e = new juce::DynamicObject();
        e->setProperty ("number", t.number);
        e->setProperty ("artist", t.artist);
        e->setProperty ("seed", t.seed);
        e->setProperty ("stale", t.stale);
        e->setProperty ("wav", t.wav);
        takes.add (juce::var (e));
    }
    o->setProperty ("takes", takes);
    o->setProperty ("selected_take", takeList.selectedRow());
    o->setProperty ("clips", st.clips);
    o->setProperty ("clip_playing", st.clipPlaying);
    o->setProperty ("audition_running", st.auditionRunning);
    o->setProperty ("piano_roll_notes", pianoRoll.numNotes());
    o->setProperty ("size", juce::Array<juce::var> { getWidth(), getHeight() });
    o->setProperty ("scale", juce::Component::getApproximateScaleFactorForComponent (this));
    if (auto* f = juce::Component::getCurrentlyFocusedComponent(); f != nullptr && isParentOf (f))
        o->setProperty ("focus", f->getTitle().isNotEmpty() ? f->getTitle() : f->getName());
    o->setProperty ("host_bpm", proc.hostBpm());
    // where the buttons are in the editor's window (physical pixels from its top left): a test in
    // a host clicks them there (the screen position JUCE knows is stale when the host's window moves)
    auto* at = new juce::DynamicObject();
    for (auto* c : std::initializer_list<juce::Component*> { &generateButton, &cancelButton, &captureButton, &auditionBar.button() })
        if (c->isShowing())
        {
            const auto r = getLocalArea (c, c->getLocalBounds()).toFloat() * juce::Component::getApproximateScaleFactorForComponent (this);
            at->setProperty (c->getName(), juce::Array<juce::var> { juce::roundToInt (r.getCentreX()), juce::roundToInt (r.getCentreY()) });
        }
    if (takeTile.isShowing())
    {   // the tile a take is dragged from
        const auto r = getLocalArea (&takeTile, takeTile.getLocalBounds()).toFloat() * juce::Component::getApproximateScaleFactorForComponent (this);
        at->setProperty ("Take tile", juce::Array<juce::var> { juce::roundToInt (r.getCentreX()), juce::roundToInt (r.getCentreY()) });
    }
    o->setProperty ("button_centres", juce::var (at));
    o->setProperty ("diagnostics", proc.diagnostics());   // changes every block: rewritten at 10 Hz while playing
    auto json = juce::JSON::toString (juce::var (o), true);
    if (json == lastStateJson)
        return;
    lastStateJson = json;
    auto tmp = stateFile.getSiblingFile (stateFile.getFileName() + ".tmp");
    if (tmp.replaceWithText (json))
        tmp.moveFileTo (stateFile);
}
} // namespace topline
