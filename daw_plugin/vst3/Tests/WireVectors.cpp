// The wire's golden-vector check: reads tests/golden/protocol_vectors.json (written by the Python
// encoder) and, for every vector, decodes its frames to the meaning the file states and encodes that
// meaning back to the same frames, byte for byte; every invalid message must be refused with its
// error code; the message type lists and the heartbeat must be the file's.
//   ToplineWireVectors tests/golden/protocol_vectors.json     (exit 0: all pass; one line per failure)
// Built by `WIRE_TEST=1 bash daw_plugin/vst3/build.sh`; run by tests/test_vst3_wire_vectors.py.
#include "../Source/Wire.h"

#include <cstring>
#include <iostream>

using namespace topline;

namespace
{
int failures = 0;

void fail (const juce::String& where, const juce::String& what)
{
    ++failures;
    std::cout << "FAIL " << where << ": " << what << std::endl;
}

bool isInt (const juce::var& v) { return v.isInt() || v.isInt64(); }

/** Strict JSON equality: ints only equal ints, doubles compare bit for bit (-0.0 != 0.0). */
bool same (const juce::var& a, const juce::var& b)
{
    if (a.isVoid() || b.isVoid()) return a.isVoid() && b.isVoid();
    if (a.isBool() || b.isBool()) return a.isBool() && b.isBool() && (bool) a == (bool) b;
    if (isInt (a) || isInt (b)) return isInt (a) && isInt (b) && (juce::int64) a == (juce::int64) b;
    if (a.isDouble() || b.isDouble())
    {
        const double x = a, y = b;
        return a.isDouble() && b.isDouble() && std::memcmp (&x, &y, sizeof (double)) == 0;
    }
    if (a.isString() || b.isString()) return a.isString() && b.isString() && a.toString() == b.toString();
    if (a.isArray() || b.isArray())
    {
        if (! a.isArray() || ! b.isArray() || a.size() != b.size()) return false;
        for (int i = 0; i < a.size(); ++i)
            if (! same (a[i], b[i])) return false;
        return true;
    }
    auto* x = a.getDynamicObject();
    auto* y = b.getDynamicObject();
    if (x == nullptr || y == nullptr || x->getProperties().size() != y->getProperties().size()) return false;
    for (auto& p : x->getProperties())
        if (! y->hasProperty (p.name) || ! same (p.value, y->getProperty (p.name))) return false;
    return true;
}

juce::MemoryBlock fromHex (const juce::var& hex)
{
    juce::MemoryBlock m;
    m.loadFromHexString (hex.toString());
    return m;
}

/** A buffer's bytes as the meaning states them (audio values in its dtype, little-endian). */
juce::MemoryBlock bufferBytes (const juce::var& b)
{
    if (! b.hasProperty ("dtype"))
        return fromHex (b["hex"]);
    juce::MemoryBlock m;
    const auto dtype = b["dtype"].toString();
    for (auto& v : *b["values"].getArray())
    {
        if (dtype == "float32") { const float f = (float) (double) v; m.append (&f, 4); }
        else if (dtype == "float64") { const double d = v; m.append (&d, 8); }
        else if (dtype == "int16") { const auto i = (juce::int16) (juce::int64) v; m.append (&i, 2); }
        else { const auto i = (juce::int32) (juce::int64) v; m.append (&i, 4); }
    }
    return m;
}

wire::BufferSpec specOf (const juce::var& b)
{
    wire::BufferSpec s;
    s.name = b["name"].toString();
    s.isAudio = b.hasProperty ("dtype");
    if (s.isAudio)
    {
        s.dtype = b["dtype"].toString();
        for (auto& d : *b["shape"].getArray())
            s.shape.push_back ((juce::int64) d);
        s.sampleRate = (int) b["sample_rate"];
    }
    else
        s.nbytes = (std::size_t) (juce::int64) b["nbytes"];
    return s;
}

void checkDecode (const juce::String& name, const std::vector<wire::FrameView>& views, const juce::var& m)
{
    wire::Message got;
    juce::String error;
    if (! wire::decode (views, got, error)) { fail (name, "decode refused it: " + error); return; }
    if (got.type != m["type"].toString()) fail (name, "type " + got.type);
    if (got.id != m["id"].toString()) fail (name, "id " + got.id);
    if (got.re != (m["re"].isVoid() ? juce::String() : m["re"].toString())) fail (name, "re " + got.re);
    if (! same (got.body, m["body"])) fail (name, "body " + juce::JSON::toString (got.body, true));
    const auto& bufs = *m["buffers"].getArray();
    if ((int) got.specs.size() != bufs.size()) { fail (name, "buffer count"); return; }
    for (int i = 0; i < bufs.size(); ++i)
    {
        const auto want = specOf (bufs[i]);
        const auto& s = got.specs[(size_t) i];
        if (s.name != want.name || s.isAudio != want.isAudio || s.dtype != want.dtype || s.shape != want.shape
            || s.sampleRate != want.sampleRate)
            fail (name, "buffer " + s.name + ": spec differs");
        const auto bytes = bufferBytes (bufs[i]);
        const auto& f = got.frames[(size_t) i];
        if (f.size != bytes.getSize() || (f.size > 0 && std::memcmp (f.data, bytes.getData(), f.size) != 0))
            fail (name, "buffer " + s.name + ": content differs from the stated values");
    }
}

void checkEncode (const juce::String& name, const juce::var& frames, const juce::var& m)
{
    std::vector<wire::BufferSpec> specs;
    for (auto& b : *m["buffers"].getArray())
    {
        specs.push_back (specOf (b));
        specs.back().nbytes = bufferBytes (b).getSize();
    }
    const auto header = wire::encodeHeader (m["type"].toString(), m["id"].toString(), m["body"], specs,
                                            m["re"].isVoid() ? juce::String() : m["re"].toString());
    const auto want = fromHex (frames[0]);
    const std::string got (header.toRawUTF8(), header.getNumBytesAsUTF8());
    if (got != std::string (static_cast<const char*> (want.getData()), want.getSize()))
        fail (name, "encodeHeader wrote\n  " + juce::String::fromUTF8 (got.c_str()) + "\nPython wrote\n  "
                        + want.toString());
    for (int i = 0; i < m["buffers"].size(); ++i)
        if (bufferBytes (m["buffers"][i]) != fromHex (frames[i + 1]))
            fail (name, "buffer frame " + juce::String (i + 1) + " differs");
}

/** The hex frames of a vector as views; ``blocks`` holds their bytes for as long as the views live. */
std::vector<wire::FrameView> framesOf (const juce::var& hexFrames, std::vector<juce::MemoryBlock>& blocks)
{
    for (auto& h : *hexFrames.getArray())
        blocks.push_back (fromHex (h));
    std::vector<wire::FrameView> views;
    for (auto& b : blocks)
        views.push_back ({ b.getData(), b.getSize() });
    return views;
}

void checkVectors (const juce::var& doc)
{
    for (auto& v : *doc["vectors"].getArray())
    {
        const auto name = v["name"].toString();
        std::vector<juce::MemoryBlock> blocks;
        const auto views = framesOf (v["frames"], blocks);
        checkDecode (name, views, v["message"]);
        checkEncode (name, v["frames"], v["message"]);
    }
    for (auto& v : *doc["invalid"].getArray())
    {
        std::vector<juce::MemoryBlock> blocks;
        const auto views = framesOf (v["frames"], blocks);
        wire::Message got;
        juce::String error, code;
        if (wire::decode (views, got, error, &code))
            fail ("invalid " + v["name"].toString(), "decode accepted it");
        else if (code != v["code"].toString())
            fail ("invalid " + v["name"].toString(), "refused as " + code + ", Python answers " + v["code"].toString());
    }
}

template <size_t N>
void checkList (const juce::String& what, const juce::var& list, const char* const (&ours)[N])
{
    juce::StringArray a, b;
    for (auto& t : *list.getArray())
        a.add (t.toString());
    for (auto* t : ours)
        b.add (t);
    a.sort (false);
    b.sort (false);
    if (a != b) fail (what, "file: " + a.joinIntoString (" ") + "; Wire.h: " + b.joinIntoString (" "));
}
} // namespace

int main (int argc, char** argv)
{
    if (argc != 2) { std::cerr << "usage: ToplineWireVectors tests/golden/protocol_vectors.json\n"; return 2; }
    const juce::File file (juce::File::getCurrentWorkingDirectory().getChildFile (argv[1]));
    juce::var doc;
    juce::MemoryBlock text;
    if (! file.loadFileAsData (text) || ! wire::parseJson (static_cast<const char*> (text.getData()), text.getSize(), doc)
        || ! doc["vectors"].isArray())
    {
        std::cerr << "cannot read the vectors from " << file.getFullPathName() << "\n";
        return 2;
    }
    if ((int) doc["protocol_version"] != wire::kProtocolVersion) fail ("protocol_version", doc["protocol_version"].toString());
    checkList ("requests", doc["requests"], wire::kRequests);
    checkList ("replies", doc["replies"], wire::kReplies);
    const auto& hb = doc["heartbeat"];
    if ((double) hb["ping_interval_s"] != wire::kPingIntervalS || (double) hb["dead_after_s"] != wire::kDeadAfterS
        || (double) hb["stall_after_s"] != wire::kStallAfterS)
        fail ("heartbeat", "the file says " + juce::JSON::toString (hb, true));
    checkVectors (doc);
    std::cout << doc["vectors"].size() << " vectors, " << doc["invalid"].size() << " invalid messages, "
              << failures << " failures" << std::endl;
    return failures == 0 ? 0 : 1;
}
