// The worker's links to the outside: the sidecar's socket (connect through the connection file,
// send, receive), its state and artists for the editor, the take file reloaded when a project
// reopens, and the Standalone's input WAV.
#include "SidecarWorker.h"

#include "TakeFiles.h"

#include <csignal>
#include <sys/types.h>
#include <unistd.h>

namespace topline
{
static double now() { return juce::Time::getMillisecondCounterHiRes() * 0.001; }

/** $TOPLINE_CONNECTION_FILE, else $XDG_RUNTIME_DIR/topline/sidecar.json, else
    /tmp/runtime-<uid>/topline/sidecar.json: where `topline sidecar` writes it (platformdirs). */
static juce::File connectionFile (const juce::String& configured)
{
    if (configured.isNotEmpty())
        return juce::File (configured);
    auto env = juce::SystemStats::getEnvironmentVariable ("TOPLINE_CONNECTION_FILE", {});
    if (env.isNotEmpty())
        return juce::File (env);
    auto xdg = juce::SystemStats::getEnvironmentVariable ("XDG_RUNTIME_DIR", {});
    if (xdg.isNotEmpty())
        return juce::File (xdg).getChildFile ("topline/sidecar.json");
    return juce::File ("/tmp/runtime-" + juce::String ((int) getuid())).getChildFile ("topline/sidecar.json");
}

/** The sidecar's artists reply into the status: names, display names and the whole entries
    (description, language, range) for the editor. */
void storePhraseCounts (const juce::var& md, Status& s)
{
    const auto pc = md["register"]["phrase_cache"];
    s.phrasesRendered = pc.hasProperty ("rendered") ? (int) pc["rendered"] : -1;
    s.phrasesReused = pc.hasProperty ("reused") ? (int) pc["reused"] : (md.hasProperty ("phrases_reused") ? (int) md["phrases_reused"] : -1);
}

void storeArtists (const juce::var& body, Status& s)
{
    s.artists.clear();
    s.artistNames.clear();
    if (auto* arr = body["artists"].getArray())
        for (auto& a : *arr)
        {
            s.artists.add (a["name"].toString());
            s.artistNames.add (a.getProperty ("display_name", a["name"]).toString());
        }
    s.artistInfo = body["artists"];
    s.artistsKnown = true;
}

//======================================================================================== take reload
void SidecarWorker::reloadTakeIfAsked()
{
    const auto r = proc.takeReloadRequests.load();
    if (r == seenReload)
        return;
    seenReload = r;
    const auto take = proc.getSettings().take;
    const auto path = take["path"].toString();
    const double rate = proc.currentSampleRate();
    if (path.isEmpty())
    {
        takeAudio.reset();
        proc.publishTake (std::make_unique<PlayableTake>()); // no take: silence
        return;
    }
    if (takeAudio == nullptr || path != takePath)
    {
        auto audio = std::make_shared<juce::AudioBuffer<float>>();
        double sr = 0;
        juce::String err;
        if (! takes::read (juce::File (path), *audio, sr, err))
        {
            proc.updateStatus ([&] (Status& s) { s.error = err; s.hint = "generate again, or put the file back"; });
            status ("Take missing: " + juce::File (path).getFileName());
            return;
        }
        takeAudio = audio;
        takePath = path;
        takeRate = sr;
        const double savedRate = (double) take.getProperty ("sample_rate", sr);
        takeStartSeconds = (double) (juce::int64) take.getProperty ("start_sample", 0) / (savedRate > 0 ? savedRate : sr);
        takeHasTempo = wire::TempoMap::fromVar (take["tempo_map"], takeTempo);
    }
    if (rate <= 0)
        return; // not prepared yet: prepareToPlay asks again
    auto play = std::make_unique<PlayableTake>();
    play->audio = rate != takeRate ? takes::resample (*takeAudio, takeRate, rate) : *takeAudio;
    play->sampleRate = rate;
    play->startSeconds = takeStartSeconds;
    play->tempoMap = takeTempo;
    play->hasTempoMap = takeHasTempo;
    proc.publishTake (std::move (play));
    status ("Take loaded: " + juce::File (path).getFileName());
}

//======================================================================================== sockets
bool SidecarWorker::ensureConnected (juce::String& why)
{
    const auto file = connectionFile (proc.getSettings().connectionFile);
    if (! file.existsAsFile())
    {
        why = "no connection file at " + file.getFullPathName();
        dropConnection();
        return false;
    }
    juce::var info;
    if (juce::JSON::parse (file.loadFileAsString(), info).failed() || ! info.isObject())
    {
        why = "unreadable connection file " + file.getFullPathName();
        return false;
    }
    const int pid = (int) info["pid"];
    if (pid > 0 && ::kill (pid, 0) != 0 && errno == ESRCH)
    {
        why = "the sidecar named in " + file.getFullPathName() + " is not running";
        dropConnection();
        return false;
    }
    if ((int) info["protocol"] != wire::kProtocolVersion)
    {
        why = "the sidecar speaks protocol " + info["protocol"].toString() + ", this plugin 1";
        return false;
    }
    auto ip = info["ip"].toString();
    if (ip == "0.0.0.0" || ip == "*")
        ip = "127.0.0.1";
    const auto url = info.getProperty ("transport", "tcp").toString() + "://" + ip + ":" + info["port"].toString();
    if (sock && url == connectedUrl)
        return true;
    dropConnection();
    try
    {
        sock.emplace (ctx, zmq::socket_type::dealer);
        sock->set (zmq::sockopt::linger, 0);
        sock->set (zmq::sockopt::routing_id, ("vst3-" + wire::newId().substring (0, 12)).toStdString());
        const auto key = info["server_public_key"];
        if (key.isString() && key.toString().isNotEmpty())
        {
            char pub[41] = {}, sec[41] = {};
            if (zmq_curve_keypair (pub, sec) != 0)
            {
                why = "this libzmq has no CURVE support";
                dropConnection();
                return false;
            }
            sock->set (zmq::sockopt::curve_serverkey, key.toString().toStdString());
            sock->set (zmq::sockopt::curve_publickey, std::string (pub));
            sock->set (zmq::sockopt::curve_secretkey, std::string (sec));
        }
        sock->connect (url.toStdString());
        connectedUrl = url;
    }
    catch (const zmq::error_t& e)
    {
        why = juce::String ("cannot connect to ") + url + ": " + e.what();
        dropConnection();
        return false;
    }
    proc.updateStatus ([] (Status& s) { s.sidecarReachable = true; });
    return true;
}

void SidecarWorker::dropConnection()
{
    sock.reset();
    connectedUrl = {};
    proc.updateStatus ([] (Status& s) { s.sidecarReachable = false; });
}

bool SidecarWorker::send (const juce::String& header, const std::vector<const juce::MemoryBlock*>& frames)
{
    if (! sock)
        return false;
    try
    {
        const auto h = header.toStdString();
        auto flags = frames.empty() ? zmq::send_flags::dontwait : zmq::send_flags::sndmore | zmq::send_flags::dontwait;
        if (! sock->send (zmq::const_buffer (h.data(), h.size()), flags))
            return false;
        for (size_t i = 0; i < frames.size(); ++i)
        {
            const auto last = i + 1 == frames.size();
            zmq::message_t msg (frames[i]->getData(), frames[i]->getSize());
            sock->send (msg, last ? zmq::send_flags::none : zmq::send_flags::sndmore);
        }
        return true;
    }
    catch (const zmq::error_t&)
    {
        return false;
    }
}

bool SidecarWorker::receive (int timeoutMs, std::vector<zmq::message_t>& parts)
{
    if (! sock)
    {
        wait (timeoutMs);
        return false;
    }
    try
    {
        zmq::pollitem_t item { static_cast<void*> (*sock), 0, ZMQ_POLLIN, 0 };
        if (zmq::poll (&item, 1, std::chrono::milliseconds (timeoutMs)) <= 0)
            return false;
        parts.clear();
        while (true)
        {
            zmq::message_t m;
            if (! sock->recv (m, zmq::recv_flags::dontwait))
                return ! parts.empty();
            const bool more = m.more();
            parts.push_back (std::move (m));
            if (! more)
                return true;
        }
    }
    catch (const zmq::error_t&)
    {
        return false;
    }
}

void SidecarWorker::sidecarState (const juce::String& state, const juce::String& detail)
{
    proc.updateStatus ([&] (Status& s) { s.sidecarState = state; s.sidecarDetail = detail; });
}

void SidecarWorker::fetchArtists()
{
    artistsAt = now();
    artistsWanted = false;
    juce::String why;
    if (! ensureConnected (why))
    {
        sidecarState ("not found", why);
        return;
    }
    const auto id = wire::newId();
    if (! send (wire::encodeHeader ("artists", id, {}, {}), {}))
        return;
    const double deadline = now() + 3.0;
    while (now() < deadline && ! threadShouldExit())
    {
        std::vector<zmq::message_t> parts;
        if (! receive (50, parts))
        {
            pollControls();
            reloadTakeIfAsked();
            if (job)
                return; // a Generate came: the job loop takes the socket over
            continue;
        }
        std::vector<wire::FrameView> views;
        for (auto& p : parts)
            views.push_back ({ p.data(), p.size() });
        wire::Message m;
        juce::String err;
        if (wire::decode (views, m, err) && m.type == "artists_reply" && m.re == id)
        {
            proc.updateStatus ([&] (Status& s) { storeArtists (m.body, s); });
            sidecarState ("connected", connectedUrl);
            return;
        }
    }
    // the process is there (its pid is alive) but does not answer: still loading its models,
    // or stuck; connect afresh next time
    sidecarState ("starting", "no answer yet from " + connectedUrl);
    dropConnection();
}

void SidecarWorker::loadInputIfChanged()
{
    if (! proc.isStandalone())
        return;
    const auto path = proc.getSettings().inputWav;
    const double rate = proc.currentSampleRate();
    if (rate <= 0 || (path == inputPath && rate == inputRate))
        return;
    inputPath = path;
    inputRate = rate;
    auto in = std::make_unique<PlayableTake>();
    if (path.isNotEmpty())
    {
        juce::AudioBuffer<float> audio;
        double sr = 0;
        juce::String err;
        if (! takes::read (juce::File (path), audio, sr, err))
        {
            proc.updateStatus ([&] (Status& s) { s.error = "Cannot play the input " + path;
                                                 s.hint = "choose a WAV file (Input WAV...)"; });
            return;
        }
        in->audio = sr != rate ? takes::resample (audio, sr, rate) : audio;
    }
    in->sampleRate = rate;
    proc.publishInput (std::move (in));
}
} // namespace topline
