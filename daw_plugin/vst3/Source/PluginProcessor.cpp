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
    addParameter (audition = new juce::AudioParameterBool ({ "audition", 1 }, "Audition", false)); // last: hosts index the others
    generate->addListener (this);
    cancel->addListener (this);
    audition->addListener (this);
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
    audition->removeListener (this);
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
    else if (index == audition->getParameterIndex())
    {
        if (on && ! auditionOn.exchange (true))
            auditionRequests.fetch_add (1);
        else if (! on)
            auditionOn.store (false);
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

} // namespace topline

juce::AudioProcessor* JUCE_CALLTYPE createPluginFilter()
{
    return new topline::ToplineProcessor();
}
