// The bridge <-> sidecar wire format (host_bridge/core/protocol.py, version 1), as pure functions.
// A message is a ZeroMQ multipart message: frame 0 is a UTF-8 JSON header
//   {"v": 1, "id": ..., "type": ..., "re": ..., "body": {...}, "buffers": [spec, ...]}
// and frames 1..n are the buffers' raw bytes in header order (little-endian, C order).
// An audio spec is {"name", "dtype", "shape": [C, T], "sample_rate"}; a bytes spec {"name", "nbytes"}.
#pragma once
#include <juce_core/juce_core.h>
#include <juce_audio_basics/juce_audio_basics.h>

#include <string>
#include <vector>

namespace topline::wire
{
constexpr int kProtocolVersion = 1;
constexpr std::size_t kMaxHeaderBytes = 1u << 20;

/** The message types a peer may send (host_bridge.core.protocol REQUESTS / REPLIES; the golden
    vectors file tests/golden/protocol_vectors.json lists the same, and the wire test checks it). */
inline constexpr const char* kRequests[] = { "analyze", "artist_create", "artists", "audition", "cancel", "compose",
                                             "generate", "hello", "ping", "release", "shutdown", "status" };
inline constexpr const char* kReplies[] = { "accepted", "artists_reply", "cancel_reply", "chunk", "done", "error",
                                            "hello_reply", "part", "pong", "progress", "shutdown_reply", "status_reply" };
bool isKnownType (const juce::String& type);

/** The heartbeat, stated once (host_bridge/core/protocol.py PING_INTERVAL_S, DEAD_AFTER_S, STALL_AFTER_S):
    ping when nothing came from the sidecar for kPingIntervalS; any readable message is a beat;
    nothing for kDeadAfterS: the sidecar is gone; a pong whose stalled_s exceeds kStallAfterS: hung. */
constexpr double kPingIntervalS = 0.25, kDeadAfterS = 1.5, kStallAfterS = 300.0;

/** A read-only view of one received frame (valid while the frame lives). */
struct FrameView
{
    const void* data = nullptr;
    std::size_t size = 0;
};

struct BufferSpec
{
    juce::String name;
    bool isAudio = false;
    juce::String dtype;              // audio: float32 | float64 | int16 | int32
    std::vector<juce::int64> shape;  // audio: [T] or [C, T]
    int sampleRate = 0;              // audio
    std::size_t nbytes = 0;          // bytes buffers, and the frame size of audio ones
};

struct Message
{
    juce::String type, id, re;
    juce::var body;                  // a JSON object (DynamicObject)
    std::vector<BufferSpec> specs;
    std::vector<FrameView> frames;   // decoded messages only: one per spec
};

juce::String newId();

/** ``v`` as canonical JSON, the bytes Python's json.dumps(v, separators=(",", ":"), sort_keys=True,
    ensure_ascii=False) writes: keys sorted by code point, no spaces, only '"', '\\' and U+0000-U+001F
    escaped, ints as ints, doubles as Python's repr (shortest round-trip digits). A NaN or infinity
    (which Python refuses) is written as null. */
std::string canonicalJson (const juce::var& v);

/** JSON text -> var as Python's json.loads reads it: doubles correctly rounded (juce::JSON::parse
    is not), integers as int or int64, strings as UTF-8; false when the text is not one JSON value. */
bool parseJson (const char* text, std::size_t size, juce::var& out);

/** Header frame of a message whose buffers are described by ``specs`` (sent as frames 1..n). */
juce::String encodeHeader (const juce::String& type, const juce::String& id, const juce::var& body,
                           const std::vector<BufferSpec>& specs, const juce::String& re = {});

BufferSpec audioSpec (const juce::String& name, int channels, juce::int64 samples, int sampleRate);
BufferSpec bytesSpec (const juce::String& name, std::size_t nbytes);

/** Frames -> Message; returns false and sets ``error`` when the message breaks a rule (and, if given,
    ``code`` to the error code the Python side answers: bad_message, unsupported_version, unknown_type). */
bool decode (const std::vector<FrameView>& frames, Message& out, juce::String& error, juce::String* code = nullptr);

/** An audio buffer of a decoded message as float [C][T]; false if it is not audio or malformed. */
bool audioBuffer (const Message& m, const juce::String& name, juce::AudioBuffer<float>& out, int& sampleRate,
                  juce::String& error);

/** A musical -> clock time map of the captured range, in host_bridge.core.model.TempoMap's dict form:
    {"tempos": [[qn, bpm], ...], "meters": [[bar, num, den], ...], "offset_s": s}. */
struct TempoMap
{
    struct Tempo { double qn, bpm; };
    struct Meter { int bar, numerator, denominator; };
    std::vector<Tempo> tempos { { 0.0, 120.0 } };
    std::vector<Meter> meters { { 1, 4, 4 } };
    double offsetS = 0.0;

    /** Session seconds of a position in quarter notes from bar 1. Allocation-free. */
    double secondsAt (double qn) const noexcept;
    /** Position in quarter notes of a session time (the inverse of secondsAt). Allocation-free. */
    double qnAt (double seconds) const noexcept;
    juce::var toVar() const;
    static bool fromVar (const juce::var& v, TempoMap& out);
};
} // namespace topline::wire
