#include "SidecarWorker.h"

#include "TakeFiles.h"

namespace topline
{
static double now() { return juce::Time::getMillisecondCounterHiRes() * 0.001; }

static bool looksLikeMidi (const juce::MemoryBlock& b)
{
    return b.getSize() >= 14 && std::memcmp (b.getData(), "MThd", 4) == 0;
}

SidecarWorker::SidecarWorker (ToplineProcessor& p) : juce::Thread ("Topline sidecar worker"), proc (p) {}

SidecarWorker::~SidecarWorker()
{
    stopThread (4000);
    sock.reset();
    ctx.close();
}

void SidecarWorker::status (const juce::String& text, double progress)
{
    proc.updateStatus ([&] (Status& s) {
        s.text = text;
        if (progress > -2.0)
            s.progress = progress;
        s.jobRunning = job.has_value();
        s.auditionRunning = job.has_value() && job->audition;
    });
}

//======================================================================================== loop
void SidecarWorker::run()
{
    while (! threadShouldExit())
    {
        pollControls();
        reloadTakeIfAsked();
        loadInputIfChanged();
        proc.collectRetiredTakes();
        // idle: keep the sidecar state and the artist list fresh (every 2 s until it answers,
        // then every 10 s: an artist that vanished, a sidecar that stopped, are seen)
        const bool answered = proc.getStatus().sidecarState == "connected";
        if (job)
            serviceJob();
        else if (artistsWanted || now() - artistsAt > (answered ? 10.0 : 2.0))
            fetchArtists();
        if (! job)
            wait (20);
    }
    if (job && sock && job->state != Job::State::waitingForSidecar)
    {   // the plugin is going away: the sidecar need not finish a take nobody will receive
        auto* b = new juce::DynamicObject();
        b->setProperty ("job", job->id);
        send (wire::encodeHeader ("cancel", wire::newId(), juce::var (b), {}), {});
    }
}

void SidecarWorker::pollControls()
{
    // Hosts that report parameter changes reach the listener (ToplineProcessor counts the edges);
    // for any other, watch the values here
    const bool g = proc.generate->get(), c = proc.cancel->get(), a = proc.audition->get();
    const bool poll = ! proc.paramListenerSeen.load();
    bool wantGenerate = poll && g && ! lastGenerate, wantCancel = poll && c && ! lastCancel;
    bool wantAudition = poll && a && ! lastAudition;
    lastGenerate = g;
    lastCancel = c;
    lastAudition = a;
    if (auto r = proc.generateRequests.load(); r != seenGenerate) { seenGenerate = r; wantGenerate = true; }
    if (auto r = proc.cancelRequests.load(); r != seenCancel) { seenCancel = r; wantCancel = true; }
    if (auto r = proc.auditionRequests.load(); r != seenAudition) { seenAudition = r; wantAudition = true; }
    if (auto r = proc.artistRequests.load(); r != seenArtists) { seenArtists = r; artistsWanted = true; artistsAt = -1e9; }
    playClipIfAsked();
    if (wantCancel && job)
        cancelJob();
    if (wantGenerate || wantAudition)
    {
        if (job && job->state != Job::State::cancelling)
            status (job->audition ? "An audition is running: cancel it first" : "A take is already being made: cancel it first");
        else
            startJob (wantAudition && ! wantGenerate);
    }
}

//======================================================================================== job
void SidecarWorker::startJob (bool audition)
{
    const auto settings = proc.getSettings();
    const auto cast = audition ? auditionCast (settings) : juce::StringArray();
    if (settings.lyrics.trim().isEmpty())
    {   // checked before the capture is closed: typing the lyrics and pressing Generate again works
        proc.updateStatus ([] (Status& s) { s.error = "No lyrics"; s.hint = "type or load the lyrics first, then Generate"; });
        status ("No lyrics: type or load them first");
        return;
    }
    ToplineProcessor::CaptureSnapshot snap;
    juce::String why;
    if (! proc.takeCaptureSnapshot (snap, why))
    {
        proc.updateStatus ([&] (Status& s) { s.error = why; s.hint = ""; });
        status (why);
        return;
    }
    Job j;
    j.id = wire::newId();
    j.tempoMap = snap.tempoMap;
    j.startSample = snap.startSample;
    j.length = snap.audio.getNumSamples();
    j.sampleRate = snap.sampleRate;
    j.artist = settings.artist;
    // instrumental: float32 [2, T], channels first, little-endian (x86/arm are)
    j.instrumental.setSize ((size_t) 2 * (size_t) j.length * sizeof (float));
    for (int c = 0; c < 2; ++c)
        std::memcpy (static_cast<float*> (j.instrumental.getData()) + (size_t) c * (size_t) j.length,
                     snap.audio.getReadPointer (c), sizeof (float) * (size_t) j.length);
    std::vector<wire::BufferSpec> specs;
    if (settings.melodyPath.isNotEmpty())
    {
        juce::File f (settings.melodyPath);
        if (! f.loadFileAsData (j.midi))
        {
            proc.updateStatus ([&] (Status& s) { s.error = "Cannot read the guide melody " + f.getFullPathName();
                                                 s.hint = "choose the MIDI file again, or clear it"; });
            status ("Cannot read the guide melody");
            return;
        }
        if (! looksLikeMidi (j.midi))
        {
            proc.updateStatus ([&] (Status& s) { s.error = f.getFileName() + " is not a MIDI file (no MThd header)";
                                                 s.hint = "choose a Standard MIDI File (.mid), or Compose for me"; });
            status ("The guide melody is not a MIDI file");
            return;
        }
        specs.push_back (wire::bytesSpec ("melody_midi", j.midi.getSize()));
    }
    specs.push_back (wire::audioSpec ("instrumental", 2, j.length, (int) snap.sampleRate));
    auto* body = new juce::DynamicObject();
    body->setProperty ("lyrics_text", settings.lyrics);
    body->setProperty ("sample_rate", (int) snap.sampleRate);
    body->setProperty ("length_samples", (juce::int64) j.length);
    body->setProperty ("start_sample", (juce::int64) j.startSample);
    body->setProperty ("seed", settings.seed);
    body->setProperty ("channels", 1);
    body->setProperty ("artist", settings.artist);
    if (settings.language.isNotEmpty())
        body->setProperty ("language", settings.language);
    body->setProperty ("lyrics_source", "vst3");
    body->setProperty ("melody_source", settings.melodyPath.isNotEmpty() ? "melody" : "composer");
    body->setProperty ("tempo_map", j.tempoMap.toVar());
    body->setProperty ("bars", juce::var());
    if (audition)
        body->setProperty ("artists", cast);
    j.audition = audition;
    j.header = wire::encodeHeader (audition ? "audition" : "generate", j.id, juce::var (body), specs);

    auto* cap = new juce::DynamicObject();
    cap->setProperty ("start_sample", (juce::int64) j.startSample);
    cap->setProperty ("length_samples", (juce::int64) j.length);
    cap->setProperty ("sample_rate", snap.sampleRate);
    cap->setProperty ("tempo_map", j.tempoMap.toVar());
    cap->setProperty ("overflowed", snap.overflowed);
    cap->setProperty ("tempo_truncated", snap.tempoTruncated);
    proc.updateSettings ([&] (Settings& s) { s.capture = juce::var (cap); });
    proc.updateStatus ([] (Status& s) { s.error = ""; s.hint = ""; s.progress = 0; s.stage = ""; s.phrasesDone = 0; s.phrasesReused = s.phrasesRendered = -1; });
    job = std::move (j);
    status (audition ? "Audition (" + cast.joinIntoString (", ") + "): sending the capture" : "Sending the capture to the sidecar", 0.0);
}

void SidecarWorker::serviceJob()
{
    auto& j = *job;
    const double t = now();
    if (j.state == Job::State::waitingForSidecar)
    {
        if (t < j.nextTry)
        {
            wait (20);
            return;
        }
        juce::String why;
        if (! ensureConnected (why))
        {
            sidecarState ("not found", why);
            j.nextTry = t + kRetryEvery;
            proc.updateStatus ([&] (Status& s) { s.hint = "start it with `topline sidecar`"; });
            status ("Waiting for the sidecar (start it with `topline sidecar`): " + why);
            return;
        }
        std::vector<const juce::MemoryBlock*> frames;
        if (j.midi.getSize() > 0)
            frames.push_back (&j.midi);
        frames.push_back (&j.instrumental);
        if (! send (j.header, frames))
        {
            dropConnection();
            j.nextTry = t + kRetryEvery;
            return;
        }
        j.state = Job::State::submitted;
        j.submittedAt = j.lastHeard = j.lastPing = t;
        status (j.resubmits > 0 ? "Sidecar restarted: job sent again" : "Job sent; waiting for the sidecar");
        return;
    }
    std::vector<zmq::message_t> parts;
    if (receive (50, parts))
    {
        std::vector<wire::FrameView> views;
        for (auto& p : parts)
            views.push_back ({ p.data(), p.size() });
        wire::Message m;
        juce::String err;
        if (wire::decode (views, m, err))
        {
            job->lastHeard = now();
            sidecarState ("connected", connectedUrl);
            handle (m);
        }
        else
        {
            DBG ("Topline: unreadable message from the sidecar: " << err);
        }
        return;
    }
    if (! job)
        return;
    const double t2 = now();
    if (j.state == Job::State::submitted && t2 - j.submittedAt > kAcceptTimeout)
    {
        dropConnection();
        j.state = Job::State::waitingForSidecar;
        j.resubmits++;
        status ("The sidecar did not accept the job: retrying");
        return;
    }
    if (t2 - std::max (j.lastHeard, j.lastPing) > kPingEvery)
    {   // silence for kPingEvery (and no ping sent in it): ask
        j.lastPing = t2;
        send (wire::encodeHeader ("ping", wire::newId(), {}, {}), {});
    }
    if (t2 - j.lastHeard > kDeadAfter)
    {   // gone (crashed, killed, restarted): find it again and resubmit the same job id
        dropConnection();
        if (j.state == Job::State::cancelling)
        {
            job.reset();
            status ("Cancelled (the sidecar went away)", -1.0);
            return;
        }
        j.state = Job::State::waitingForSidecar;
        j.resubmits++;
        sidecarState ("not found", "it stopped answering during the job (killed or crashed?)");
        status ("The sidecar stopped answering: reconnecting (start it again with `topline sidecar`)");
    }
}

void SidecarWorker::handle (const wire::Message& m)
{
    auto& j = *job;
    if (m.type == "pong" || m.type == "status_reply" || m.type == "hello_reply")
        return;
    if (m.type == "artists_reply")
    {
        proc.updateStatus ([&] (Status& s) { storeArtists (m.body, s); });
        artistsWanted = false;
        return;
    }
    if (m.re != j.id && m.type != "cancel_reply")
        return; // an old job's events
    if (m.type == "accepted")
    {
        if (j.state == Job::State::submitted)
            j.state = Job::State::accepted;
        const auto pos = m.body["position"];
        status (pos.isVoid() || (int) pos == 0 ? juce::String ("Accepted") : "Queued at position " + pos.toString());
    }
    else if (m.type == "progress")
    {
        const auto stage = m.body["stage"].toString();
        const double frac = (double) m.body["frac"];
        proc.updateStatus ([&] (Status& s) { s.stage = stage; });
        status ("Generating: " + stage + " " + juce::String (juce::roundToInt (frac * 100)) + "%", frac);
    }
    else if (m.type == "chunk")
    {   // a phrase streamed early (the take arrives whole with "done"): counted for the editor
        if (j.audition && m.body.hasProperty ("clip"))
            return takeClip (m);
        const int index = (int) m.body.getProperty ("index", 0);
        proc.updateStatus ([&] (Status& s) { s.phrasesDone = juce::jmax (s.phrasesDone, index + 1); });
    }
    else if (m.type == "cancel_reply")
    {
        const auto state = m.body["state"].toString();
        if (j.state == Job::State::cancelling && (state == "unknown" || state == "done" || state == "failed"))
        {
            job.reset();
            status ("Cancelled", -1.0);
        }
    }
    else if (m.type == "done")
    {
        if (j.audition)
            finishAudition();   // the A/B reel is for the CLI; the clips came one by one
        else
            finishWithTake (m);
    }
    else if (m.type == "error")
    {
        const auto code = m.body["code"].toString();
        if (code == "busy")
        {
            dropConnection();
            j.state = Job::State::waitingForSidecar;
            j.nextTry = now() + 2.0;
            status ("The sidecar is busy: trying again shortly");
            return;
        }
        if (code == "cancelled")
        {
            job.reset();
            status ("Cancelled", -1.0);
            return;
        }
        failJob (m.body["message"].toString(), m.body["hint"].toString());
    }
}

void SidecarWorker::failJob (const juce::String& error, const juce::String& hint)
{
    job.reset();
    proc.updateStatus ([&] (Status& s) { s.error = error; s.hint = hint; });
    status ("Failed: " + error, -1.0);
}

void SidecarWorker::finishWithTake (const wire::Message& m)
{
    auto audio = std::make_shared<juce::AudioBuffer<float>>();
    int sr = 0;
    juce::String err;
    if (! wire::audioBuffer (m, "audio", *audio, sr, err))
    {
        failJob ("The sidecar sent a take without audio: " + err, "update the plugin and the sidecar together");
        return;
    }
    const auto md = m.body["take"];
    const juce::int64 start = md.hasProperty ("start_sample") ? (juce::int64) md["start_sample"] : job->startSample;
    const auto settings = proc.getSettings();
    auto* meta = new juce::DynamicObject();
    meta->setProperty ("job", job->id);
    meta->setProperty ("take", md);
    meta->setProperty ("tempo_map", job->tempoMap.toVar());
    meta->setProperty ("lyrics", settings.lyrics);
    meta->setProperty ("writer", "topline-vst3");
    const auto wav = takes::write (juce::File (settings.takesDir), *audio, sr, start, juce::var (meta), err);
    if (wav == juce::File())
    {
        failJob ("The take could not be saved: " + err, "choose a takes folder you can write to");
        return;
    }
    auto* t = new juce::DynamicObject();
    t->setProperty ("path", wav.getFullPathName());
    t->setProperty ("start_sample", start);
    t->setProperty ("sample_rate", sr);
    t->setProperty ("tempo_map", job->tempoMap.toVar());
    t->setProperty ("artist", md["artist"]);
    t->setProperty ("engine", md["engine"]);
    t->setProperty ("job", job->id);
    t->setProperty ("seed", md.getProperty ("seed", settings.seed));
    proc.updateStatus ([&] (Status& s) { storePhraseCounts (md, s); });
    proc.updateSettings ([&] (Settings& s) { s.take = juce::var (t); });
    proc.updateStatus ([] (Status& s) { s.clipPlaying = -1; });
    play (audio, sr, start, job->tempoMap, wav.getFullPathName());
    job.reset();
    status ("Take ready: " + wav.getFileName(), 1.0);
}

void SidecarWorker::cancelJob()
{
    auto& j = *job;
    if (j.state == Job::State::waitingForSidecar || ! sock)
    {
        job.reset();
        status ("Cancelled", -1.0);
        return;
    }
    auto* b = new juce::DynamicObject();
    b->setProperty ("job", j.id);
    send (wire::encodeHeader ("cancel", wire::newId(), juce::var (b), {}), {});
    j.state = Job::State::cancelling;
    status ("Cancelling");
}

} // namespace topline
