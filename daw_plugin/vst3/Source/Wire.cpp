#include "Wire.h"

#include <cmath>
#include <cstring>

namespace topline::wire
{
bool isKnownType (const juce::String& type)
{
    for (auto* t : kRequests)
        if (type == t) return true;
    for (auto* t : kReplies)
        if (type == t) return true;
    return false;
}

juce::String newId()
{
    return juce::Uuid().toString(); // 32 lowercase hex digits, like uuid4().hex
}

BufferSpec audioSpec (const juce::String& name, int channels, juce::int64 samples, int sampleRate)
{
    BufferSpec s;
    s.name = name;
    s.isAudio = true;
    s.dtype = "float32";
    s.shape = { (juce::int64) channels, samples };
    s.sampleRate = sampleRate;
    s.nbytes = (std::size_t) channels * (std::size_t) samples * sizeof (float);
    return s;
}

BufferSpec bytesSpec (const juce::String& name, std::size_t nbytes)
{
    BufferSpec s;
    s.name = name;
    s.nbytes = nbytes;
    return s;
}

juce::String encodeHeader (const juce::String& type, const juce::String& id, const juce::var& body,
                           const std::vector<BufferSpec>& specs, const juce::String& re)
{
    auto* h = new juce::DynamicObject();
    h->setProperty ("v", kProtocolVersion);
    h->setProperty ("id", id);
    h->setProperty ("type", type);
    h->setProperty ("body", body.isObject() ? body : juce::var (new juce::DynamicObject()));
    if (re.isNotEmpty())
        h->setProperty ("re", re);
    if (! specs.empty())
    {
        juce::Array<juce::var> list;
        for (auto& s : specs)
        {
            auto* o = new juce::DynamicObject();
            o->setProperty ("name", s.name);
            if (s.isAudio)
            {
                juce::Array<juce::var> shape;
                for (auto d : s.shape)
                    shape.add (d);
                o->setProperty ("dtype", s.dtype);
                o->setProperty ("shape", shape);
                o->setProperty ("sample_rate", s.sampleRate);
            }
            else
            {
                o->setProperty ("nbytes", (juce::int64) s.nbytes);
            }
            list.add (juce::var (o));
        }
        h->setProperty ("buffers", list);
    }
    return juce::String::fromUTF8 (canonicalJson (juce::var (h)).c_str());
}

static std::size_t itemSize (const juce::String& dtype)
{
    if (dtype == "float32" || dtype == "int32") return 4;
    if (dtype == "float64") return 8;
    if (dtype == "int16") return 2;
    return 0;
}

static bool isInt (const juce::var& v) { return v.isInt() || v.isInt64(); }

/** One buffer spec of a header, checked against the size of its frame. */
static bool decodeSpec (const juce::var& sv, std::size_t frameSize, BufferSpec& s, juce::String& error)
{
    s.name = sv["name"].toString();
    s.nbytes = frameSize;
    if (! sv.hasProperty ("dtype"))
    {
        if (isInt (sv["nbytes"]) && (std::size_t) (juce::int64) sv["nbytes"] == s.nbytes)
            return true;
        error = s.name + ": nbytes does not match its frame";
        return false;
    }
    s.isAudio = true;
    s.dtype = sv["dtype"].toString();
    s.sampleRate = (int) sv["sample_rate"];
    auto shape = sv["shape"];
    std::size_t count = 1;
    if (! shape.isArray() || shape.size() < 1 || shape.size() > 2) { error = s.name + ": bad shape"; return false; }
    for (int d = 0; d < shape.size(); ++d)
    {
        if (! isInt (shape[d]) || (juce::int64) shape[d] < 0) { error = s.name + ": bad shape"; return false; }
        s.shape.push_back ((juce::int64) shape[d]);
        count *= (std::size_t) s.shape.back();
    }
    if (itemSize (s.dtype) == 0 || count * itemSize (s.dtype) != s.nbytes || s.sampleRate <= 0)
    {
        error = s.name + ": dtype/shape/sample rate do not match its frame";
        return false;
    }
    return true;
}

bool decode (const std::vector<FrameView>& frames, Message& out, juce::String& error, juce::String* code)
{
    if (code != nullptr)
        *code = "bad_message";
    if (frames.empty()) { error = "empty message"; return false; }
    if (frames[0].size > kMaxHeaderBytes) { error = "header over the size limit"; return false; }
    juce::var header;
    if (! parseJson (static_cast<const char*> (frames[0].data), frames[0].size, header)
        || header.getDynamicObject() == nullptr) // (a JSON array is a juce "object" too)
    {
        error = "header is not a JSON object";
        return false;
    }
    if (! isInt (header["v"]) || (int) header["v"] != kProtocolVersion)
    {
        error = "protocol version " + header["v"].toString() + " is not spoken here (update the plugin and the sidecar together)";
        if (code != nullptr)
            *code = "unsupported_version";
        return false;
    }
    if (! header["id"].isString() || header["id"].toString().isEmpty()) { error = "message id is missing"; return false; }
    if (! header["type"].isString()) { error = "message type is missing"; return false; }
    if (! isKnownType (header["type"].toString()))
    {
        error = "unknown message type " + header["type"].toString().quoted() + " (update the plugin and the sidecar together)";
        if (code != nullptr)
            *code = "unknown_type";
        return false;
    }
    out = {};
    out.id = header["id"].toString();
    out.type = header["type"].toString();
    out.re = header["re"].isString() ? header["re"].toString() : juce::String();
    out.body = header["body"].getDynamicObject() != nullptr ? header["body"] : juce::var (new juce::DynamicObject());
    auto specs = header["buffers"];
    const int n = specs.isArray() ? specs.size() : 0;
    if (n != (int) frames.size() - 1)
    {
        error = "header lists " + juce::String (n) + " buffers, " + juce::String ((int) frames.size() - 1) + " frames came";
        return false;
    }
    for (int i = 0; i < n; ++i)
    {
        BufferSpec s;
        if (! decodeSpec (specs[i], frames[(size_t) i + 1].size, s, error))
            return false;
        out.specs.push_back (s);
        out.frames.push_back (frames[(size_t) i + 1]);
    }
    return true;
}

bool audioBuffer (const Message& m, const juce::String& name, juce::AudioBuffer<float>& out, int& sampleRate,
                  juce::String& error)
{
    for (size_t i = 0; i < m.specs.size(); ++i)
    {
        const auto& s = m.specs[i];
        if (s.name != name)
            continue;
        if (! s.isAudio) { error = name + " is not audio"; return false; }
        const int channels = s.shape.size() == 2 ? (int) s.shape[0] : 1;
        const auto samples = s.shape.back();
        if (channels < 1 || channels > 64 || samples > std::numeric_limits<int>::max())
        {
            error = name + ": " + juce::String (channels) + " channels of " + juce::String (samples) + " samples";
            return false;
        }
        out.setSize (channels, (int) samples);
        const auto* base = static_cast<const char*> (m.frames[i].data);
        const auto item = itemSize (s.dtype);
        for (int c = 0; c < channels; ++c)
        {
            auto* dst = out.getWritePointer (c);
            const char* src = base + (size_t) c * (size_t) samples * item;
            for (juce::int64 t = 0; t < samples; ++t, src += item)
            {
                if (s.dtype == "float32") { float f; std::memcpy (&f, src, 4); dst[t] = f; }
                else if (s.dtype == "float64") { double d; std::memcpy (&d, src, 8); dst[t] = (float) d; }
                else if (s.dtype == "int16") { juce::int16 v; std::memcpy (&v, src, 2); dst[t] = (float) v / 32768.0f; }
                else { juce::int32 v; std::memcpy (&v, src, 4); dst[t] = (float) ((double) v / 2147483648.0); }
            }
        }
        sampleRate = s.sampleRate;
        return true;
    }
    error = "no audio buffer named " + name;
    return false;
}

double TempoMap::secondsAt (double qn) const noexcept
{
    double s = offsetS;
    for (size_t i = 0; i < tempos.size(); ++i)
    {
        const bool last = i + 1 == tempos.size() || qn < tempos[i + 1].qn;
        if (last)
            return s + (qn - tempos[i].qn) * 60.0 / tempos[i].bpm;
        s += (tempos[i + 1].qn - tempos[i].qn) * 60.0 / tempos[i].bpm;
    }
    return s + qn * 0.5; // unreachable with a valid map (tempos is never empty)
}

double TempoMap::qnAt (double seconds) const noexcept
{
    double s = offsetS;
    for (size_t i = 0; i < tempos.size(); ++i)
    {
        const double segEnd = i + 1 < tempos.size() ? s + (tempos[i + 1].qn - tempos[i].qn) * 60.0 / tempos[i].bpm : 0.0;
        if (i + 1 == tempos.size() || seconds < segEnd)
            return tempos[i].qn + (seconds - s) * tempos[i].bpm / 60.0;
        s = segEnd;
    }
    return 0.0;
}

juce::var TempoMap::toVar() const
{
    juce::Array<juce::var> t, m;
    for (auto& x : tempos)
        t.add (juce::Array<juce::var> { x.qn, x.bpm });
    for (auto& x : meters)
        m.add (juce::Array<juce::var> { x.bar, x.numerator, x.denominator });
    auto* o = new juce::DynamicObject();
    o->setProperty ("tempos", t);
    o->setProperty ("meters", m);
    o->setProperty ("offset_s", offsetS);
    return juce::var (o);
}

bool TempoMap::fromVar (const juce::var& v, TempoMap& out)
{
    if (! v.isObject() || ! v["tempos"].isArray() || v["tempos"].size() == 0)
        return false;
    TempoMap m;
    m.tempos.clear();
    m.meters.clear();
    for (auto& t : *v["tempos"].getArray())
    {
        if (! t.isArray() || t.size() != 2 || ! ((double) t[1] > 0.0))
            return false;
        m.tempos.push_back ({ (double) t[0], (double) t[1] });
    }
    if (v["meters"].isArray())
        for (auto& x : *v["meters"].getArray())
            if (x.isArray() && x.size() == 3)
                m.meters.push_back ({ (int) x[0], (int) x[1], (int) x[2] });
    if (m.meters.empty())
        m.meters.push_back ({ 1, 4, 4 });
    m.offsetS = (double) v.getProperty ("offset_s", 0.0);
    out = std::move (m);
    return true;
}
} // namespace topline::wire
