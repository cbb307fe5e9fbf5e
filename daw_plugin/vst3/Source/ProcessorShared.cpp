// The processor's side that runs off the audio thread: the capture snapshot for the worker, the
// take and input handoffs, settings and status, diagnostics, and the saved state.
#include "PluginProcessor.h"

#include "PluginEditor.h"
#include "RtCheck.h"

namespace topline
{
//======================================================================================== worker side
bool ToplineProcessor::takeCaptureSnapshot (CaptureSnapshot& out, juce::String& why)
{
    std::lock_guard<std::mutex> lk (captureAllocMutex);
    capClosed.store (true);                        // the audio thread stops writing...
    while (capWriting.load())                      // ...once its current block is done
        juce::Thread::sleep (1);
    const auto epoch = capEpoch.load();
    const auto frames = capFrames.load (std::memory_order_acquire);
    const int rc = capRecordCount.load (std::memory_order_acquire);
    if (frames <= 0 || rc <= 0)
    {
        why = "Nothing captured yet: arm Capture and play the section with the instrumental";
        return false;
    }
    out.audio.setSize (2, (int) frames);
    std::memcpy (out.audio.getWritePointer (0), capL.get(), sizeof (float) * (size_t) frames);
    std::memcpy (out.audio.getWritePointer (1), capR.get(), sizeof (float) * (size_t) frames);
    out.startSample = capStart.load();
    out.sampleRate = capSampleRate.load();
    out.overflowed = capOverflow.load();
    out.tempoMap = tempoMapFromRecords (rc, out.startSample, out.sampleRate, out.tempoTruncated);
    out.tempoTruncated = out.tempoTruncated || capTruncated.load();
    if (capEpoch.load() != epoch)
    {
        why = "A new capture started while the last one was being read: press Generate again";
        return false;
    }
    return true;
}

wire::TempoMap ToplineProcessor::tempoMapFromRecords (int count, juce::int64 startSample, double sr, bool& truncated) const
{
    // The host reports tempo and meter per block; the map keeps their changes. Before the first
    // captured block the first tempo and meter are assumed to hold back to bar 1.
    truncated = count >= kMaxRecords;
    wire::TempoMap m;
    m.tempos.clear();
    m.meters.clear();
    const auto& r0 = records[0];
    const double t0 = (double) (startSample + r0.frame) / sr;
    m.offsetS = t0 - r0.ppq * 60.0 / r0.bpm;
    m.tempos.push_back ({ 0.0, r0.bpm });
    m.meters.push_back ({ 1, r0.numerator, r0.denominator });
    double meterStartQn = 0.0;
    for (int i = 1; i < count; ++i)
    {
        const auto& r = records[(size_t) i];
        if (r.bpm != m.tempos.back().bpm && r.ppq > m.tempos.back().qn)
            m.tempos.push_back ({ r.ppq, r.bpm });
        auto& last = m.meters.back();
        if (r.numerator != last.numerator || r.denominator != last.denominator)
        {
            const double barQn = last.numerator * 4.0 / last.denominator;
            const double at = r.hasBarStart ? r.barStartPpq : r.ppq;
            const int bar = last.bar + (int) std::llround ((at - meterStartQn) / barQn);
            if (bar > last.bar)
            {
                m.meters.push_back ({ bar, r.numerator, r.denominator });
                meterStartQn = at;
            }
        }
    }
    return m;
}

void ToplineProcessor::publishTake (std::unique_ptr<PlayableTake> take)
{
    publishedTakeRate.store (take->audio.getNumSamples() > 0 ? take->sampleRate : 0.0);
    delete pending.exchange (take.release(), std::memory_order_acq_rel); // one the audio thread never took
    collectRetiredTakes();
}

void ToplineProcessor::publishInput (std::unique_ptr<PlayableTake> input)
{
    delete pendingInput.exchange (input.release(), std::memory_order_acq_rel);
    collectRetiredTakes();
}

void ToplineProcessor::collectRetiredTakes()
{
    int s1, n1, s2, n2;
    const int ready = retireFifo.getNumReady();
    retireFifo.prepareToRead (ready, s1, n1, s2, n2);
    for (int i = 0; i < n1; ++i) delete std::exchange (retireSlots[s1 + i], nullptr);
    for (int i = 0; i < n2; ++i) delete std::exchange (retireSlots[s2 + i], nullptr);
    retireFifo.finishedRead (n1 + n2);
}

//======================================================================================== settings, status
Settings ToplineProcessor::getSettings() const
{
    std::lock_guard<std::mutex> lk (settingsMutex);
    return settings;
}

void ToplineProcessor::updateSettings (const std::function<void (Settings&)>& fn)
{
    std::lock_guard<std::mutex> lk (settingsMutex);
    fn (settings);
    fallbackBpm.store (settings.fallbackBpm);
    freeClock.store (settings.clock == "free");
}

Status ToplineProcessor::getStatus() const
{
    std::lock_guard<std::mutex> lk (statusMutex);
    return status;
}

void ToplineProcessor::updateStatus (const std::function<void (Status&)>& fn)
{
    std::lock_guard<std::mutex> lk (statusMutex);
    fn (status);
}

juce::var ToplineProcessor::diagnostics() const
{
    auto st = getStatus();
    auto* d = new juce::DynamicObject();
    d->setProperty ("audio_thread_allocations", (juce::int64) rt::audioThreadAllocations());
    d->setProperty ("audio_thread_locks", (juce::int64) rt::audioThreadLocks());
    d->setProperty ("rt_check_armed", rt::selfTest());
    d->setProperty ("blocks", blocks.load());
    d->setProperty ("max_block", maxBlockSeen.load());
    d->setProperty ("sample_rate", sampleRateNow.load());
    d->setProperty ("captured_samples", capFrames.load());
    d->setProperty ("capture_start_sample", capStart.load());
    d->setProperty ("take_loaded", takeActive.load());
    d->setProperty ("take_samples_played", takeSamplesPlayed.load());
    d->setProperty ("take_published_rate", publishedTakeRate.load());
    d->setProperty ("last_ppq", lastPpq.load());
    d->setProperty ("last_bpm", lastBpm.load());
    d->setProperty ("last_sample", lastSessionSample.load());
    d->setProperty ("playing", lastPlaying.load());
    d->setProperty ("status", st.text);
    d->setProperty ("error", st.error);
    d->setProperty ("hint", st.hint);
    d->setProperty ("progress", st.progress);
    d->setProperty ("job_running", st.jobRunning);
    d->setProperty ("sidecar_reachable", st.sidecarReachable);
    d->setProperty ("artists", st.artists);
    d->setProperty ("latency_samples", getLatencySamples());
    d->setProperty ("sidecar_state", st.sidecarState);
    d->setProperty ("phrases_done", st.phrasesDone);
    d->setProperty ("phrases_rendered", st.phrasesRendered);
    d->setProperty ("phrases_reused", st.phrasesReused);
    d->setProperty ("standalone", isStandalone());
    d->setProperty ("input_file_playing", inputActive.load());
    d->setProperty ("audition_running", st.auditionRunning);
    d->setProperty ("clips", st.clips);
    d->setProperty ("clip_playing", st.clipPlaying);
    return juce::var (d);
}

static constexpr const char* kStateFormat = "topline-vst3";

void ToplineProcessor::getStateInformation (juce::MemoryBlock& dest)
{
    const auto s = getSettings();
    auto* o = new juce::DynamicObject();
    o->setProperty ("format", kStateFormat);
    o->setProperty ("version", 1);
    o->setProperty ("lyrics", s.lyrics);
    o->setProperty ("artist", s.artist);
    o->setProperty ("language", s.language);
    o->setProperty ("input_wav", s.inputWav);
    o->setProperty ("melody_path", s.melodyPath);
    o->setProperty ("takes_dir", s.takesDir);
    o->setProperty ("connection_file", s.connectionFile);
    o->setProperty ("seed", s.seed);
    o->setProperty ("fallback_bpm", s.fallbackBpm);
    o->setProperty ("clock", s.clock);
    o->setProperty ("max_capture_s", s.maxCaptureSeconds);
    o->setProperty ("capture", s.capture);
    o->setProperty ("take", s.take);
    o->setProperty ("audition_artists", s.auditionArtists);
    auto* p = new juce::DynamicObject();
    p->setProperty ("capture", capture->get());
    p->setProperty ("monitor", monitor->getIndex());
    p->setProperty ("vocal_db", (double) vocalDb->get());
    o->setProperty ("params", juce::var (p));
    o->setProperty ("diagnostics", diagnostics()); // informative only: not read back
    const auto text = juce::JSON::toString (juce::var (o), true);
    dest.replaceAll (text.toRawUTF8(), text.getNumBytesAsUTF8());
}

void ToplineProcessor::setStateInformation (const void* data, int size)
{
    juce::var v;
    auto text = juce::String::fromUTF8 (static_cast<const char*> (data), size);
    if (juce::JSON::parse (text, v).failed() || v["format"].toString() != kStateFormat)
    {
        updateStatus ([] (Status& st) { st.error = "The saved Topline state could not be read; settings were reset"; });
        return;
    }
    updateSettings ([&] (Settings& s) {
        s.lyrics = v["lyrics"].toString();
        s.artist = v.getProperty ("artist", "alpha").toString();
        s.language = v.getProperty ("language", "").toString().substring (0, 32);
        s.inputWav = v["input_wav"].toString();
        s.melodyPath = v["melody_path"].toString();
        s.takesDir = v.getProperty ("takes_dir", takes::defaultFolder().getFullPathName()).toString();
        s.connectionFile = v["connection_file"].toString();
        s.seed = (int) v.getProperty ("seed", 0);
        s.clock = v.getProperty ("clock", "host").toString() == "free" ? "free" : "host";
        s.fallbackBpm = juce::jlimit (20.0, 400.0, (double) v.getProperty ("fallback_bpm", 120.0));
        s.maxCaptureSeconds = juce::jlimit (1.0, 3600.0, (double) v.getProperty ("max_capture_s", 480.0));
        s.capture = v["capture"];
        s.take = v["take"];
        s.auditionArtists.clear();
        if (const auto* a = v["audition_artists"].getArray(); a != nullptr)
            for (int i = 0; i < juce::jmin (32, a->size()); ++i)
                s.auditionArtists.add (a->getReference (i).toString());
    });
    const auto& p = v["params"];
    if (p.isObject())
    {
        *capture = (bool) p.getProperty ("capture", false);
        *monitor = juce::jlimit (0, 2, (int) p.getProperty ("monitor", 0));
        *vocalDb = (float) (double) p.getProperty ("vocal_db", 0.0);
    }
    takeReloadRequests.fetch_add (1);
}

juce::AudioProcessorEditor* ToplineProcessor::createEditor()
{
    return new ToplineEditor (*this);
}
} // namespace topline
