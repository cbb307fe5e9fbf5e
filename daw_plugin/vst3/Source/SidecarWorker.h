// The worker thread: everything that may block or allocate, off the audio thread.
//   - watches the Generate/Cancel parameters (rising edges) and the editor's requests
//   - snapshots the capture, sends a generate request to the sidecar (ZeroMQ DEALER, the same
//     socket type the Python bridge uses), follows accepted/progress/chunk/done/error
//   - survives the sidecar being absent (waits for it), restarted (re-reads the connection file,
//     resubmits the same job id) and slow (heartbeat pings; no deadline on a job that progresses)
//   - writes the take WAV, hands the take to the audio thread, reloads it when a project reopens
//     or the sample rate changes
#pragma once
#include "PluginProcessor.h"

#include <zmq.hpp>

#include <optional>

namespace topline
{
/** The sidecar's artists reply into the status: names, display names and the whole entries
    (description, language, range) for the editor (SidecarLink.cpp). */
void storeArtists (const juce::var& body, Status& s);
/** How many phrases a take re-sang and how many the sidecar's phrase cache gave back, from the
    take's metadata (register.phrase_cache {rendered, reused}); -1 each when it does not say. */
void storePhraseCounts (const juce::var& takeMetadata, Status& s);

class SidecarWorker final : public juce::Thread
{
public:
    explicit SidecarWorker (ToplineProcessor&);
    ~SidecarWorker() override;
    void run() override;

    // Timings (seconds). The heartbeat is the protocol's one policy (Wire.h, from host_bridge/core/protocol.py;
    // the wire test checks it against tests/golden/protocol_vectors.json): ping when nothing came from
    // the sidecar for kPingEvery; nothing for kDeadAfter while a job runs: gone, the worker reconnects
    // (maybe to a restarted sidecar) and resubmits.
    static constexpr double kPingEvery = wire::kPingIntervalS, kDeadAfter = wire::kDeadAfterS;
    static constexpr double kAcceptTimeout = 5.0, kRetryEvery = 1.0;

private:
    struct Job
    {
        juce::String id;
        juce::String header;
        juce::MemoryBlock instrumental, midi;
        wire::TempoMap tempoMap;
        juce::int64 startSample = 0, length = 0;
        double sampleRate = 0;
        juce::String artist;
        bool audition = false;        // an audition: clips stream in as chunk events, done is the A/B reel
        int clips = 0;
        enum class State { waitingForSidecar, submitted, accepted, cancelling } state = State::waitingForSidecar;
        double lastHeard = 0, lastPing = 0, submittedAt = 0, nextTry = 0, retryAt = 0;
        int resubmits = 0;
    };

    void pollControls();
    void startJob (bool audition);
    void serviceJob();
    void cancelJob();
    bool ensureConnected (juce::String& why);
    void dropConnection();
    bool send (const juce::String& header, const std::vector<const juce::MemoryBlock*>& frames);
    bool receive (int timeoutMs, std::vector<zmq::message_t>& parts);
    void handle (const wire::Message& m);
    void finishWithTake (const wire::Message& m);
    // auditions (WorkerAudition.cpp)
    juce::StringArray auditionCast (const Settings&) const;
    void takeClip (const wire::Message& m);
    void finishAudition();
    void playClipIfAsked();
    /** Hands ``audio`` (at ``sr``, session sample ``start``) to the audio thread, resampled to the
        session rate, placed by ``tempo`` like a take. */
    void play (std::shared_ptr<const juce::AudioBuffer<float>> audio, double sr, juce::int64 start, const wire::TempoMap& tempo,
               const juce::String& path);
    void failJob (const juce::String& error, const juce::String& hint);
    void fetchArtists();
    void sidecarState (const juce::String& state, const juce::String& detail);
    void loadInputIfChanged();
    void reloadTakeIfAsked();
    void status (const juce::String& text, double progress = -2.0);

    ToplineProcessor& proc;
    zmq::context_t ctx;
    std::optional<zmq::socket_t> sock;
    juce::String connectedUrl;
    std::optional<Job> job;
    bool lastGenerate = false, lastCancel = false, lastAudition = false;
    juce::uint32 seenGenerate = 0, seenCancel = 0, seenArtists = 0, seenReload = 0, seenAudition = 0, seenClip = 0;
    struct Clip
    {
        std::shared_ptr<const juce::AudioBuffer<float>> audio;
        double rate = 0;
        juce::int64 start = 0;
        wire::TempoMap tempo;
        juce::String path;
    };
    std::vector<Clip> clips;      // the last audition's, in arrival order
    double artistsAt = -1e9;
    bool artistsWanted = false;   // asked for by the editor: refresh now
    juce::String inputPath;       // Standalone input WAV as loaded, and the rate it was loaded for
    double inputRate = 0;
    // the take as delivered (its own rate), kept to resample when the session rate changes
    std::shared_ptr<const juce::AudioBuffer<float>> takeAudio;
    juce::String takePath;
    double takeRate = 0, takeStartSeconds = 0;
    wire::TempoMap takeTempo;
    bool takeHasTempo = false;
};
} // namespace topline
