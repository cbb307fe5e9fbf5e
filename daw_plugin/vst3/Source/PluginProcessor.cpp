#include "PluginProcessor.h"

#include "PluginEditor.h"
#include "RtCheck.h"
#include "SidecarWorker.h"

#include <cmath>

namespace topline
{
ToplineProcessor::ToplineProcessor()
    : AudioProcessor (BusesProperties()
                          .withInput ("Input", juce::AudioChannelSet::stereo(), true)
                          .withOutput ("Output", juce::AudioChannelSet::stereo(), true)
                          .withOutput ("Vocal", juce::AudioChannelSet::stereo(), false)) // optional: the take alone
{
    addParameter (capture = new juce::AudioParameterBool ({ "capture", 1 }, "Capture", false));
    addParameter (generate = new juce::AudioParameterBool ({ "generate", 1 }, "Generate", false));
    addParameter (cancel = new juce::AudioParameterBool ({ "cancel", 1 }, "Cancel", false));
    addParameter (monitor = new juce::AudioParameterChoice ({ "monitor", 1 }, "Monitor",
                                                            { "Instrumental + vocal", "Instrumental", "Vocal" }, 0));
    addParameter (vocalDb = new juce::AudioParameterFloat ({ "vocal_db", 1 }, "Vocal level",
                                                           juce::NormalisableRange<float> (-60.0f, 12.0f, 0.1f), 0.0f));
    generate->addListener (this);
    cancel->addListener (this);
    records.resize ((size_t) kMaxRecords);
    settings.takesDir = takes::defaultFolder().getFullPathName();
    setLatencySamples (0);
    // Site defaults for new instances (deployments, headless hosts, tests): a state JSON file
    // named by $TOPLINE_VST3_DEFAULTS. A project's saved state replaces it when the host restores one.
    const auto defaults = juce::SystemStats::getEnvironmentVariable ("TOPLINE_VST3_DEFAULTS", {});
    if (defaults.isNotEmpty() && juce::File (defaults).existsAsFile())
    {
        juce::MemoryBlock mb;
        juce::File (defaults).loadFileAsData (mb);
        setStateInformation (mb.getData(), (int) mb.getSize());
    }
    worker = std::make_unique<SidecarWorker> (*this);
    worker->startThread();
}

ToplineProcessor::~ToplineProcessor()
{
    generate->removeListener (this);
    cancel->removeListener (this);
    worker->stopThread (4000);
    worker.reset();
    delete pending.exchange (nullptr);
    delete pendingInput.exchange (nullptr);
    collectRetiredTakes();
    delete current;
    delete inputSource;
}

void ToplineProcessor::parameterValueChanged (int index, float value)
{
    const bool on = value >= 0.5f;
    if (index == generate->getParameterIndex())
    {
        paramListenerSeen.store (true);
        if (on && ! generateOn.exchange (true))
            generateRequests.fetch_add (1);
        else if (! on)
            generateOn.store (false);
    }
    else if (index == cancel->getParameterIndex())
    {
        paramListenerSeen.store (true);
        if (on && ! cancelOn.exchange (true))
            cancelRequests.fetch_add (1);
        else if (! on)
            cancelOn.store (false);
    }
}

//======================================================================================== setup
void ToplineProcessor::prepareToPlay (double sr, int maximumExpectedSamplesPerBlock)
{
    const bool rateChanged = sr != sampleRate;
    double maxSeconds;
    {
        std::lock_guard<std::mutex> lk (settingsMutex);
        maxSeconds = settings.maxCaptureSeconds;
    }
    {
        std::lock_guard<std::mutex> lk (captureAllocMutex);
        const auto cap = (juce::int64) std::ceil (juce::jlimit (1.0, 3600.0, maxSeconds) * sr);
        if (rateChanged || cap != capCapacity)
        {
            capL.malloc ((size_t) cap);   // malloc, not calloc: pages are touched only when captured into
            capR.malloc ((size_t) cap);
            capCapacity = cap;
            capEpoch.fetch_add (1);
            capFrames.store (0);
            capRecordCount.store (0);
        }
    }
    sampleRate = sr;
    sampleRateNow.store (sr);
    maxBlock = juce::jmax (32, maximumExpectedSamplesPerBlock);
    vocalScratch.setSize (2, maxBlock, false, false, true);
    playSynced = false;
    freeRunSample = 0; // without a host transport, processing restarts the clock
    setLatencySamples (0); // pass-through and playback are both sample-aligned
    if (rateChanged)
        takeReloadRequests.fetch_add (1); // the worker resamples the take to the new rate
}

void ToplineProcessor::reset()
{
    freeRunSample = 0;
    playSynced = false;
}

bool ToplineProcessor::isBusesLayoutSupported (const BusesLayout& l) const
{
    const auto in = l.getMainInputChannelSet(), out = l.getMainOutputChannelSet();
    if (in != out || (in != juce::AudioChannelSet::stereo() && in != juce::AudioChannelSet::mono()))
        return false;
    if (l.outputBuses.size() > 1)
    {
        const auto v = l.getChannelSet (false, 1);
        if (! v.isDisabled() && v != juce::AudioChannelSet::stereo())
            return false;
    }
    return true;
}

//======================================================================================== audio thread
ToplineProcessor::Position ToplineProcessor::readPosition() noexcept
{
    Position p;
    p.bpm = fallbackBpm.load (std::memory_order_relaxed);
    bool fromHost = false;
    auto* ph = freeClock.load (std::memory_order_relaxed) ? nullptr : getPlayHead();
    if (ph != nullptr)
    {
        if (auto info = ph->getPosition())
        {
            p.playing = info->getIsPlaying() || info->getIsRecording();
            if (auto s = info->getTimeInSamples()) { p.hasSample = true; p.sample = *s; }
            if (auto q = info->getPpqPosition()) { p.hasPpq = true; p.ppq = *q; }
            if (auto b = info->getBpm(); b.hasValue() && *b > 0.0) p.bpm = *b;
            if (auto ts = info->getTimeSignature(); ts.hasValue() && ts->numerator > 0 && ts->denominator > 0)
            {
                p.numerator = ts->numerator;
                p.denominator = ts->denominator;
            }
            if (auto bs = info->getPpqPositionOfLastBarStart()) { p.hasBarStart = true; p.barStartPpq = *bs; }
            fromHost = p.hasSample || p.hasPpq;
        }
    }
    p.ppqFromHost = p.hasPpq;
    if (! fromHost)
    {   // no transport (no play head, the "free" clock setting for offline hosts like pedalboard):
        // a clock that runs from the last prepareToPlay()/reset(), always playing
        p = Position();
        p.bpm = fallbackBpm.load (std::memory_order_relaxed);
        p.playing = true;
        p.hasSample = true;
        p.sample = freeRunSample;
    }
    if (! p.hasSample)
    {
        p.sample = (juce::int64) std::llround (p.ppq * 60.0 / p.bpm * sampleRate);
        p.hasSample = true;
    }
    if (! p.hasPpq)
    {
        p.ppq = (double) p.sample / sampleRate * p.bpm / 60.0;
        p.hasPpq = true;
    }
    return p;
}

void ToplineProcessor::captureBlock (const juce::AudioBuffer<float>& in, int numSamples, const Position& pos) noexcept
{
    const bool armed = capture->get();
    if (armed && ! wasArmed)
        startNewCapture = true;
    wasArmed = armed;
    if (! armed || ! pos.playing || capCapacity <= 0 || numSamples <= 0)
        return;

    capWriting.store (true);                       // (seq_cst: pairs with takeCaptureSnapshot)
    if (capClosed.load() && ! startNewCapture)
    {
        capWriting.store (false);
        return;
    }
    if (startNewCapture || pos.sample != captureNextSample || capFrames.load (std::memory_order_relaxed) == 0)
    {   // a new pass: re-arming, or the transport jumped (the latest contiguous pass is the capture)
        capEpoch.fetch_add (1);
        capClosed.store (false);
        capFrames.store (0);
        capRecordCount.store (0);
        capStart.store (pos.sample);
        capSampleRate.store (sampleRate);
        capOverflow.store (false);
        capTruncated.store (false);
        startNewCapture = false;
    }
    const auto frames = capFrames.load (std::memory_order_relaxed);
    const int rc = capRecordCount.load (std::memory_order_relaxed);
    const bool changed = rc == 0 || records[(size_t) rc - 1].bpm != pos.bpm
                         || records[(size_t) rc - 1].numerator != pos.numerator
                         || records[(size_t) rc - 1].denominator != pos.denominator;
    if (changed)
    {
        if (rc < kMaxRecords)
        {
            records[(size_t) rc] = { frames, pos.ppq, pos.bpm, pos.barStartPpq, pos.numerator, pos.denominator, pos.hasBarStart };
            capRecordCount.store (rc + 1, std::memory_order_release);
        }
        else
        {
            capTruncated.store (true);
        }
    }
    const int n = (int) juce::jmin<juce::int64> (numSamples, capCapacity - frames);
    if (n < numSamples)
        capOverflow.store (true);
    if (n > 0)
    {
        const int inCh = getMainBusNumInputChannels();
        const float* l = in.getReadPointer (0);
        const float* r = in.getReadPointer (inCh > 1 ? 1 : 0);
        std::memcpy (capL.get() + frames, l, sizeof (float) * (size_t) n);
        std::memcpy (capR.get() + frames, r, sizeof (float) * (size_t) n);
        capFrames.store (frames + n, std::memory_order_release);
    }
    captureNextSample = pos.sample + numSamples;
    capWriting.store (false);
}

void ToplineProcessor::swapInPendingTake() noexcept
{
    if (pending.load (std::memory_order_relaxed) == nullptr || retireFifo.getFreeSpace() < 1)
        return;
    auto* p = pending.exchange (nullptr, std::memory_order_acq_rel);
    if (p == nullptr)
        return;
    if (current != nullptr)
        retire (current);
    current = p;
    playSynced = false;
    takeActive.store (current->audio.getNumSamples() > 0);
}

void ToplineProcessor::retire (PlayableTake* p) noexcept
{
    int s1, n1, s2, n2;
    retireFifo.prepareToWrite (1, s1, n1, s2, n2);
    retireSlots[n1 > 0 ? s1 : s2] = p;
    retireFifo.finishedWrite (1);
}

void ToplineProcessor::swapInPendingInput() noexcept
{
    if (pendingInput.load (std::memory_order_relaxed) == nullptr || retireFifo.getFreeSpace() < 1)
        return;
    auto* p = pendingInput.exchange (nullptr, std::memory_order_acq_rel);
    if (p == nullptr)
        return;
    if (inputSource != nullptr)
        retire (inputSource);
    inputSource = p->audio.getNumSamples() > 0 && p->sampleRate == sampleRate ? p : nullptr;
    if (inputSource == nullptr)
        retire (p);
    inputPos = 0;
    inputActive.store (inputSource != nullptr);
}

void ToplineProcessor::fillFromInputFile (juce::AudioBuffer<float>& buffer, int numSamples) noexcept
{
    // Standalone: the input WAV replaces the (absent or muted) device input, looped
    const auto& a = inputSource->audio;
    const juce::int64 len = a.getNumSamples();
    const int inCh = juce::jmin (getMainBusNumInputChannels(), buffer.getNumChannels());
    for (int c = 0; c < inCh; ++c)
    {
        const float* src = a.getReadPointer (juce::jmin (c, a.getNumChannels() - 1));
        float* dst = buffer.getWritePointer (c);
        juce::int64 k = inputPos;
        for (int i = 0; i < numSamples; ++i, ++k)
            dst[i] = src[k % len];
    }
    inputPos = (inputPos + numSamples) % len;
}

juce::int64 ToplineProcessor::takeIndexFor (const Position& pos) noexcept
{
    // While the transport runs on without a jump, keep counting samples: hosts report PPQ with
    // limited resolution (Ardour: 1/1920 qn), so re-reading it every block would shift the take
    // by a few samples now and then. At a start, locate or loop, place the take anew.
    if (playSynced && pos.sample == nextHostSample)
        return playIndex;
    const auto& t = *current;
    const auto fromSamples = pos.sample - (juce::int64) std::llround (t.startSeconds * sampleRate);
    if (pos.ppqFromHost && t.hasTempoMap)
    {
        // Where the take is in the music now. Before its start: its first beat is (startQn - ppq)
        // quarter notes away at the host's current tempo. Inside it: the take's own map says which
        // of its samples belongs to this beat.
        const auto startQn = t.tempoMap.qnAt (t.startSeconds);
        const auto fromPpq = pos.ppq < startQn
            ? -(juce::int64) std::llround ((startQn - pos.ppq) * 60.0 / pos.bpm * sampleRate)
            : (juce::int64) std::llround ((t.tempoMap.secondsAt (pos.ppq) - t.startSeconds) * sampleRate);
        // the host's timeline still matches the capture's (tempo unchanged): the sample position
        // is exact (PPQ is not); otherwise the tempo map moved since the capture and the take
        // follows the music
        if (std::abs (fromPpq - fromSamples) <= (juce::int64) (0.02 * sampleRate))
            return fromSamples;
        return fromPpq;
    }
    return fromSamples;
}

void ToplineProcessor::renderVocal (int offset, int numSamples, juce::int64 takeIndex, float gain) noexcept
{
    const auto& a = current->audio;
    const juce::int64 len = a.getNumSamples();
    for (int c = 0; c < 2; ++c)
    {
        const float* src = a.getReadPointer (juce::jmin (c, a.getNumChannels() - 1));
        float* dst = vocalScratch.getWritePointer (c);
        for (int i = 0; i < numSamples; ++i)
        {
            const juce::int64 k = takeIndex + offset + i;
            dst[i] = (k >= 0 && k < len) ? src[k] * gain : 0.0f;
        }
    }
}

void ToplineProcessor::processBlock (juce::AudioBuffer<float>& buffer, juce::MidiBuffer&)
{
    rt::AudioThreadScope rtScope;
    juce::ScopedNoDenormals noDenormals;
    const int n = buffer.getNumSamples();
    blocks.fetch_add (1, std::memory_order_relaxed);
    if (n > maxBlockSeen.load (std::memory_order_relaxed))
        maxBlockSeen.store (n, std::memory_order_relaxed);
    if (sampleRate <= 0 || n <= 0)
        return;

    const auto pos = readPosition();
    swapInPendingInput();
    if (inputSource != nullptr)
        fillFromInputFile (buffer, n);
    captureBlock (buffer, n, pos);
    swapInPendingTake();

    const int mode = monitor->getIndex();
    const float gain = juce::Decibels::decibelsToGain (vocalDb->get(), -60.0f);
    const int mainCh = getMainBusNumOutputChannels();
    int vocalFirst = -1, vocalCh = 0;
    if (auto* vb = getBus (false, 1); vb != nullptr && vb->isEnabled())
    {
        vocalFirst = vb->getChannelIndexInProcessBlockBuffer (0);
        vocalCh = juce::jmin (vb->getNumberOfChannels(), buffer.getNumChannels() - vocalFirst);
    }

    bool active = current != nullptr && pos.playing && current->audio.getNumSamples() > 0
                  && current->sampleRate == sampleRate;
    juce::int64 idx = 0;
    if (active)
    {
        idx = takeIndexFor (pos);
        active = idx + n > 0 && idx < current->audio.getNumSamples();
    }
    if (! active)
    {   // no take here: the main output stays bit-exact (nothing is added, not even zeros)
        playSynced = false;
        for (int c = 0; c < vocalCh; ++c)
            buffer.clear (vocalFirst + c, 0, n);
        if (mode == 2)
            for (int c = 0; c < mainCh; ++c)
                buffer.clear (c, 0, n);
    }
    else
    {
        const int chunk = vocalScratch.getNumSamples();
        for (int off = 0; off < n; off += chunk)
        {
            const int m = juce::jmin (chunk, n - off);
            renderVocal (off, m, idx, gain);
            for (int c = 0; c < vocalCh; ++c)
                buffer.copyFrom (vocalFirst + c, off, vocalScratch, juce::jmin (c, 1), 0, m);
            for (int c = 0; c < mainCh; ++c)
            {
                if (mode == 0)
                    buffer.addFrom (c, off, vocalScratch, juce::jmin (c, 1), 0, m);
                else if (mode == 2)
                    buffer.copyFrom (c, off, vocalScratch, juce::jmin (c, 1), 0, m);
            }
        }
        const auto played = juce::jmin<juce::int64> (idx + n, current->audio.getNumSamples()) - juce::jmax<juce::int64> (idx, 0);
        takeSamplesPlayed.fetch_add (played, std::memory_order_relaxed);
        playIndex = idx + n;
        nextHostSample = pos.sample + n;
        playSynced = true;
    }

    lastPpq.store (pos.ppq, std::memory_order_relaxed);
    lastBpm.store (pos.bpm, std::memory_order_relaxed);
    lastPlaying.store (pos.playing, std::memory_order_relaxed);
    lastSessionSample.store (pos.sample, std::memory_order_relaxed);
    freeRunSample += n;
}

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
    d->setProperty ("standalone", isStandalone());
    d->setProperty ("input_file_playing", inputActive.load());
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

juce::AudioProcessor* JUCE_CALLTYPE createPluginFilter()
{
    return new topline::ToplineProcessor();
}
