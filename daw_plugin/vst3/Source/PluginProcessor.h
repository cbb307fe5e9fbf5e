// Topline on the instrumental bus: passes the bus through untouched, captures it with the host's
// musical position, and plays the take from the sidecar in sync with the host's transport.
//
// Threads:
//   audio   processBlock(): no locks, no allocation, no waiting. It talks to the others through
//           atomics, a preallocated capture buffer, and a one-slot take handoff + retire FIFO.
//   worker  SidecarWorker: the sidecar connection, take files, resampling, freeing old takes.
//   message editor, state save/restore (settings are guarded by a mutex the audio thread never takes).
#pragma once
#include <juce_audio_processors/juce_audio_processors.h>

#include "TakeFiles.h"
#include "Wire.h"

#include <atomic>
#include <memory>
#include <mutex>

namespace topline
{
class SidecarWorker;

/** A take ready to play: audio at the session rate, its session start, and the tempo map it was
    made with (to place it by the host's musical position). Built and freed off the audio thread. */
struct PlayableTake
{
    juce::AudioBuffer<float> audio;
    double sampleRate = 0;
    double startSeconds = 0;   // session time of audio sample 0
    wire::TempoMap tempoMap;
    bool hasTempoMap = false;
};

/** Non-audio settings, saved in the project. Guarded by ToplineProcessor::settingsMutex. */
struct Settings
{
    juce::String lyrics, artist { "alpha" }, melodyPath, takesDir, connectionFile;
    juce::String language;          // "" = the lyrics' [Language: xx] line, else the artist's own
    juce::String inputWav;          // Standalone only: a WAV played as the input (looped)
    int seed = 0;
    juce::String clock { "host" };  // "host": the host's transport; "free": a clock of our own,
                                    // always playing from prepareToPlay/reset (offline hosts such as
                                    // pedalboard, whose play head stays stopped at sample 0)
    double fallbackBpm = 120.0;     // tempo when the host gives none (and of the free clock)
    double maxCaptureSeconds = 480.0;
    juce::var capture;              // metadata of the last captured range sent to the sidecar
    juce::var take;                 // {path, start_sample, sample_rate, tempo_map, ...}
    juce::StringArray auditionArtists; // who sings an audition; empty: the artist and the next two
};

/** What the worker reports, for the editor and the diagnostics. Guarded by statusMutex. */
struct Status
{
    juce::String text { "Idle" }, stage, error, hint;
    double progress = 0;            // 0..1 of the running job, -1 when none
    juce::StringArray artists, artistNames;
    juce::var artistInfo;           // the sidecar's artists reply: [{name, description, language, range, ...}]
    bool artistsKnown = false;      // a reply came (an empty list is a real answer)
    juce::String sidecarState { "unknown" };  // "connected" | "starting" | "not found" | "unknown"
    juce::String sidecarDetail;     // why (the connection file, the url) for the editor's banner
    int phrasesDone = 0;            // chunk events of the running job (phrases rendered)
    int phrasesReused = -1;         // the last take's phrases the sidecar's phrase cache gave back (-1: not said)
    int phrasesRendered = -1;       // and those it sang anew
    bool sidecarReachable = false;
    bool jobRunning = false;
    bool auditionRunning = false;   // the running job is an audition (clips, not a take)
    juce::Array<juce::var> clips;   // the last audition's clips: {artist, wav, start_sample, sample_rate}
    int clipPlaying = -1;           // which of them plays through the plugin (-1: none, the take plays)
};

class ToplineProcessor final : public juce::AudioProcessor,
                               private juce::AudioProcessorParameter::Listener
{
public:
    ToplineProcessor();
    ~ToplineProcessor() override;

    //==================================================================== AudioProcessor
    const juce::String getName() const override { return "Topline"; }
    void prepareToPlay (double sampleRate, int maximumExpectedSamplesPerBlock) override;
    void releaseResources() override {}
    void reset() override;
    void processBlock (juce::AudioBuffer<float>&, juce::MidiBuffer&) override;
    using juce::AudioProcessor::processBlock;
    bool isBusesLayoutSupported (const BusesLayout&) const override;
    double getTailLengthSeconds() const override { return 0; }
    bool acceptsMidi() const override { return false; }
    bool producesMidi() const override { return false; }
    juce::AudioProcessorEditor* createEditor() override;
    bool hasEditor() const override { return true; }
    int getNumPrograms() override { return 1; }
    int getCurrentProgram() override { return 0; }
    void setCurrentProgram (int) override {}
    const juce::String getProgramName (int) override { return {}; }
    void changeProgramName (int, const juce::String&) override {}
    void getStateInformation (juce::MemoryBlock&) override;
    void setStateInformation (const void*, int) override;

    //==================================================================== parameters
    juce::AudioParameterBool* capture = nullptr;   // armed: record while the transport plays
    juce::AudioParameterBool* generate = nullptr;  // off -> on: send the capture to the sidecar
    juce::AudioParameterBool* cancel = nullptr;    // off -> on: cancel the running job
    juce::AudioParameterChoice* monitor = nullptr; // main output: instrumental + vocal | instrumental | vocal
    juce::AudioParameterFloat* vocalDb = nullptr;  // level of the take (both outputs)
    juce::AudioParameterBool* audition = nullptr;  // off -> on: audition the capture (the editor's Audition)

    //==================================================================== for the editor / worker
    Settings getSettings() const;
    void updateSettings (const std::function<void (Settings&)>& fn);
    Status getStatus() const;
    void updateStatus (const std::function<void (Status&)>& fn);
    void requestGenerate() noexcept { generateRequests.fetch_add (1); }
    void requestCancel() noexcept { cancelRequests.fetch_add (1); }
    void requestArtists() noexcept { artistRequests.fetch_add (1); }
    void requestAudition() noexcept { auditionRequests.fetch_add (1); }
    /** Play clip ``index`` of the last audition through the plugin (the worker hands it over). */
    void requestClip (int index) noexcept { clipChoice.store (index); clipRequests.fetch_add (1); }
    juce::var diagnostics() const;

    /** A copy of the capture taken while it is closed to the audio thread (worker only).
        Returns false with ``why`` set when there is nothing to send. */
    struct CaptureSnapshot
    {
        juce::AudioBuffer<float> audio;   // [2][frames] at sampleRate
        juce::int64 startSample = 0;
        double sampleRate = 0;
        wire::TempoMap tempoMap;
        bool tempoTruncated = false, overflowed = false;
    };
    bool takeCaptureSnapshot (CaptureSnapshot& out, juce::String& why);

    /** Hands a take to the audio thread (nullptr-free: pass an empty take to stop playback).
        Frees takes the audio thread has let go of. Worker/message thread only. */
    void publishTake (std::unique_ptr<PlayableTake> take);
    void collectRetiredTakes();
    double currentSampleRate() const noexcept { return sampleRateNow.load(); }
    double hostBpm() const noexcept { return lastBpm.load(); }
    double hostPpq() const noexcept { return lastPpq.load(); }
    bool isStandalone() const noexcept { return wrapperType == wrapperType_Standalone; }
    /** Standalone: the WAV to play as the input, at the session rate (worker/message thread). */
    void publishInput (std::unique_ptr<PlayableTake> input);

    std::atomic<juce::uint32> generateRequests { 0 }, cancelRequests { 0 }, artistRequests { 0 };
    std::atomic<juce::uint32> takeReloadRequests { 0 };   // settings.take changed (state restored)
    std::atomic<juce::uint32> auditionRequests { 0 }, clipRequests { 0 };
    std::atomic<int> clipChoice { -1 };
    /** True once the host has told us of a Generate/Cancel change (then the worker need not poll). */
    std::atomic<bool> paramListenerSeen { false };

private:
    // Generate/Cancel as off -> on edges, however briefly the host holds them on (any thread,
    // the audio thread included: an atomic increment only)
    void parameterValueChanged (int index, float value) override;
    void parameterGestureChanged (int, bool) override {}
    std::atomic<bool> generateOn { false }, cancelOn { false }, auditionOn { false };

    struct BlockRecord
    {
        juce::int64 frame;     // capture frame of the block's first sample
        double ppq, bpm, barStartPpq;
        int numerator, denominator;
        bool hasBarStart;
    };
    struct Position
    {
        bool playing = true, hasPpq = false, hasSample = false, ppqFromHost = false;
        double ppq = 0, bpm = 120, barStartPpq = 0;
        bool hasBarStart = false;
        int numerator = 4, denominator = 4;
        juce::int64 sample = 0;
    };

    Position readPosition() noexcept;
    void captureBlock (const juce::AudioBuffer<float>& in, int numSamples, const Position& pos) noexcept;
    void swapInPendingTake() noexcept;
    void swapInPendingInput() noexcept;
    void fillFromInputFile (juce::AudioBuffer<float>& buffer, int numSamples) noexcept;
    void retire (PlayableTake* p) noexcept;
    void renderVocal (int offset, int numSamples, juce::int64 takeIndex, float gain) noexcept;
    juce::int64 takeIndexFor (const Position& pos) noexcept;
    wire::TempoMap tempoMapFromRecords (int count, juce::int64 startSample, double sampleRate, bool& truncated) const;

    // ---- audio-thread state (prepared in prepareToPlay)
    double sampleRate = 0;
    int maxBlock = 0;
    juce::AudioBuffer<float> vocalScratch;   // [2][maxBlock]
    juce::int64 freeRunSample = 0;           // the clock when the host gives no position
    juce::int64 playIndex = 0;               // next take sample to play
    juce::int64 nextHostSample = 0;          // host position where the next block continues the last
    bool playSynced = false;
    bool wasArmed = false, startNewCapture = false;
    juce::int64 captureNextSample = 0;
    PlayableTake* current = nullptr;
    PlayableTake* inputSource = nullptr;     // Standalone: the input WAV (looped)
    juce::int64 inputPos = 0;

    // ---- capture storage: written by the audio thread, read by the worker while closed
    std::mutex captureAllocMutex;            // prepareToPlay vs worker snapshot (never the audio thread)
    juce::HeapBlock<float> capL, capR;       // malloc'd, untouched until written (lazy pages)
    juce::int64 capCapacity = 0;
    std::vector<BlockRecord> records;        // capacity reserved, size fixed: the audio thread indexes it
    static constexpr int kMaxRecords = 4096;
    std::atomic<juce::int64> capFrames { 0 }, capStart { 0 };
    std::atomic<int> capRecordCount { 0 };
    std::atomic<juce::uint32> capEpoch { 0 };
    std::atomic<bool> capWriting { false }, capClosed { false }, capOverflow { false }, capTruncated { false };
    std::atomic<double> capSampleRate { 0 };

    // ---- take handoff
    std::atomic<PlayableTake*> pending { nullptr }, pendingInput { nullptr };
    std::atomic<bool> inputActive { false };
    static constexpr int kRetireSlots = 16;
    juce::AbstractFifo retireFifo { kRetireSlots };
    PlayableTake* retireSlots[kRetireSlots] = {};

    // ---- published for diagnostics / editor
    std::atomic<double> sampleRateNow { 0 }, lastPpq { 0 }, lastBpm { 0 };
    std::atomic<bool> lastPlaying { false }, takeActive { false };
    std::atomic<juce::int64> blocks { 0 }, takeSamplesPlayed { 0 }, lastSessionSample { 0 };
    std::atomic<int> maxBlockSeen { 0 };
    std::atomic<double> fallbackBpm { 120.0 }, publishedTakeRate { 0 };
    std::atomic<bool> freeClock { false };

    mutable std::mutex settingsMutex, statusMutex;
    Settings settings;
    Status status;
    std::unique_ptr<SidecarWorker> worker;

    JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR (ToplineProcessor)
};
} // namespace topline
