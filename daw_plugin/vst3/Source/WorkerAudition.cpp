// Auditions: the captured section sung by a few artists, one clip each. The clips stream in as
// chunk events naming the artist ("clip"), each at its session position ("start_sample"); each is
// written as a take file under <takes folder>/auditions/ (same numbering and BWF time reference
// as a take) and the first plays through the plugin at once, placed on the session like a take.
// The editor picks which clip plays (ToplineProcessor::requestClip); the saved take is untouched.
#include "SidecarWorker.h"

#include "TakeFiles.h"

namespace topline
{
juce::StringArray SidecarWorker::auditionCast (const Settings& settings) const
{
    if (! settings.auditionArtists.isEmpty())
        return settings.auditionArtists;
    // the artist picked, then the next two the sidecar has: one click compares three voices
    juce::StringArray cast { settings.artist };
    const auto known = proc.getStatus().artists;
    const int at = known.indexOf (settings.artist);
    for (int k = 1; k < known.size() && cast.size() < 3; ++k)
        cast.addIfNotAlreadyThere (known[(juce::jmax (0, at) + k) % known.size()]);
    return cast;
}

void SidecarWorker::takeClip (const wire::Message& m)
{
    auto audio = std::make_shared<juce::AudioBuffer<float>>();
    int sr = 0;
    juce::String err;
    if (! wire::audioBuffer (m, "audio", *audio, sr, err))
    {
        failJob ("The sidecar sent an audition clip without audio: " + err, "update the plugin and the sidecar together");
        return;
    }
    auto& j = *job;
    const auto artist = m.body["clip"].toString();
    const juce::int64 start = m.body.hasProperty ("start_sample") ? (juce::int64) m.body["start_sample"] : j.startSample;
    auto* meta = new juce::DynamicObject();
    meta->setProperty ("job", j.id);
    meta->setProperty ("audition_clip", artist);
    auto* md = new juce::DynamicObject();
    md->setProperty ("artist", artist);
    md->setProperty ("start_sample", start);
    md->setProperty ("ready_s", m.body.getProperty ("ready_s", 0.0));
    meta->setProperty ("take", juce::var (md));
    meta->setProperty ("tempo_map", j.tempoMap.toVar());
    meta->setProperty ("writer", "topline-vst3");
    const auto folder = juce::File (proc.getSettings().takesDir).getChildFile ("auditions");
    const auto wav = takes::write (folder, *audio, sr, start, juce::var (meta), err);
    if (wav == juce::File())
    {
        failJob ("The audition clip could not be saved: " + err, "choose a takes folder you can write to");
        return;
    }
    if (j.clips == 0)
        clips.clear();
    clips.push_back ({ audio, (double) sr, start, j.tempoMap, wav.getFullPathName() });
    auto* c = new juce::DynamicObject();
    c->setProperty ("artist", artist);
    c->setProperty ("wav", wav.getFullPathName());
    c->setProperty ("start_sample", start);
    c->setProperty ("sample_rate", sr);
    c->setProperty ("index", (int) m.body.getProperty ("index", j.clips));
    const bool first = j.clips++ == 0;
    proc.updateStatus ([&] (Status& s) {
        if (first)
            s.clips.clear();
        s.clips.add (juce::var (c));
        s.phrasesDone = s.clips.size();
        if (first)
            s.clipPlaying = 0;
    });
    if (first)
        play (audio, sr, start, j.tempoMap, wav.getFullPathName());
    status ("Audition: " + artist + " ready (" + juce::String (j.clips) + " clip" + (j.clips == 1 ? "" : "s") + ")");
}

void SidecarWorker::finishAudition()
{
    const int n = job->clips;
    job.reset();
    status ("Audition ready: " + juce::String (n) + (n == 1 ? " clip" : " clips") + "; pick one to hear it in place", 1.0);
}

void SidecarWorker::playClipIfAsked()
{
    const auto r = proc.clipRequests.load();
    if (r == seenClip)
        return;
    seenClip = r;
    const int i = proc.clipChoice.load();
    if (i < 0 || i >= (int) clips.size())
    {   // back to the take
        proc.updateStatus ([] (Status& s) { s.clipPlaying = -1; });
        takeAudio.reset();
        proc.takeReloadRequests.fetch_add (1);
        return;
    }
    const auto& c = clips[(size_t) i];
    proc.updateStatus ([i] (Status& s) { s.clipPlaying = i; });
    play (c.audio, c.rate, c.start, c.tempo, c.path);
}

void SidecarWorker::play (std::shared_ptr<const juce::AudioBuffer<float>> audio, double sr, juce::int64 start,
                          const wire::TempoMap& tempo, const juce::String& path)
{
    takeAudio = audio;
    takePath = path;
    takeRate = sr;
    takeStartSeconds = (double) start / sr;
    takeTempo = tempo;
    takeHasTempo = true;
    seenReload = proc.takeReloadRequests.load();   // this is newer than any reload request
    auto p = std::make_unique<PlayableTake>();
    const double rate = proc.currentSampleRate();
    p->audio = (rate > 0 && rate != sr) ? takes::resample (*audio, sr, rate) : *audio;
    p->sampleRate = rate > 0 ? rate : sr;
    p->startSeconds = takeStartSeconds;
    p->tempoMap = takeTempo;
    p->hasTempoMap = true;
    proc.publishTake (std::move (p));
}
} // namespace topline
