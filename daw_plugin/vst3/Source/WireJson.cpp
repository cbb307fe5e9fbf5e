// The wire's JSON, byte-exact with Python's json module (host_bridge/core/protocol.py): a reader whose
// doubles are correctly rounded (juce::JSON::parse keeps ~17 digits counting leading zeros, so
// 0.0004267336116429715 came back one ulp off and 5e-324 as 0) and the canonical writer.
#include "Wire.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

namespace topline::wire
{
namespace
{
struct Reader
{
    const char* p;
    const char* end;
    int depth = 0;

    void skipSpace() { while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p; }
    bool literal (const char* word)
    {
        const auto n = std::strlen (word);
        if ((size_t) (end - p) < n || std::memcmp (p, word, n) != 0) return false;
        p += n;
        return true;
    }

    bool hex4 (unsigned& cp)
    {
        if (end - p < 4) return false;
        cp = 0;
        for (int i = 0; i < 4; ++i, ++p)
        {
            const char c = *p;
            const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) return false;
            cp = cp * 16 + (unsigned) d;
        }
        return true;
    }

    static void appendUtf8 (std::string& s, unsigned cp)
    {
        if (cp < 0x80) s += (char) cp;
        else if (cp < 0x800) { s += (char) (0xc0 | (cp >> 6)); s += (char) (0x80 | (cp & 0x3f)); }
        else if (cp < 0x10000)
        {
            s += (char) (0xe0 | (cp >> 12)); s += (char) (0x80 | ((cp >> 6) & 0x3f)); s += (char) (0x80 | (cp & 0x3f));
        }
        else
        {
            s += (char) (0xf0 | (cp >> 18)); s += (char) (0x80 | ((cp >> 12) & 0x3f));
            s += (char) (0x80 | ((cp >> 6) & 0x3f)); s += (char) (0x80 | (cp & 0x3f));
        }
    }

    bool string (std::string& s)
    {
        ++p; // the opening quote
        while (p < end && *p != '"')
        {
            const auto c = (unsigned char) *p++;
            if (c < 0x20) return false;
            if (c != '\\') { s += (char) c; continue; }
            if (p >= end) return false;
            const char e = *p++;
            unsigned cp = 0;
            switch (e)
            {
                case '"': case '\\': case '/': s += e; break;
                case 'b': s += '\b'; break;
                case 'f': s += '\f'; break;
                case 'n': s += '\n'; break;
                case 'r': s += '\r'; break;
                case 't': s += '\t'; break;
                case 'u':
                    if (! hex4 (cp)) return false;
                    if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u')
                    {
                        p += 2;
                        unsigned lo = 0;
                        if (! hex4 (lo) || lo < 0xdc00 || lo >= 0xe000) return false;
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    }
                    appendUtf8 (s, cp);
                    break;
                default: return false;
            }
        }
        if (p >= end) return false;
        ++p;
        return true;
    }

    bool number (juce::var& out)
    {
        const char* start = p;
        if (p < end && *p == '-') ++p;
        bool isDouble = false;
        while (p < end && (std::isdigit ((unsigned char) *p) || *p == '.' || *p == 'e' || *p == 'E'
                           || ((*p == '+' || *p == '-') && (p[-1] == 'e' || p[-1] == 'E'))))
            if (! std::isdigit ((unsigned char) *p++))
                isDouble = true;
        if (! isDouble)
        {
            juce::int64 i = 0;
            const auto r = std::from_chars (start, p, i);
            if (r.ec != std::errc() || r.ptr != p) return false;
            out = i == (juce::int64) (int) i ? juce::var ((int) i) : juce::var (i);
            return true;
        }
        double d = 0;
        const auto r = std::from_chars (start, p, d); // correctly rounded, subnormals kept
        if ((r.ec != std::errc() && r.ec != std::errc::result_out_of_range) || r.ptr != p) return false;
        out = d;
        return true;
    }

    bool value (juce::var& out)
    {
        skipSpace();
        if (p >= end || ++depth > 256) return false;
        bool ok = true;
        if (*p == '{') ok = object (out);
        else if (*p == '[') ok = array (out);
        else if (*p == '"') { std::string s; ok = string (s); out = juce::String::fromUTF8 (s.data(), (int) s.size()); }
        else if (literal ("true")) out = true;
        else if (literal ("false")) out = false;
        else if (literal ("null")) out = juce::var();
        else ok = number (out);
        --depth;
        return ok;
    }

    bool array (juce::var& out)
    {
        ++p;
        juce::Array<juce::var> items;
        skipSpace();
        if (p < end && *p == ']') { ++p; out = items; return true; }
        for (;;)
        {
            juce::var v;
            if (! value (v)) return false;
            items.add (v);
            skipSpace();
            if (p < end && *p == ',') { ++p; continue; }
            if (p < end && *p == ']') { ++p; out = items; return true; }
            return false;
        }
    }

    bool object (juce::var& out)
    {
        ++p;
        auto* o = new juce::DynamicObject();
        out = juce::var (o);
        skipSpace();
        if (p < end && *p == '}') { ++p; return true; }
        for (;;)
        {
            skipSpace();
            std::string key;
            if (p >= end || *p != '"' || ! string (key)) return false;
            skipSpace();
            if (p >= end || *p++ != ':') return false;
            juce::var v;
            if (! value (v)) return false;
            o->setProperty (juce::Identifier (juce::String::fromUTF8 (key.data(), (int) key.size())), v);
            skipSpace();
            if (p < end && *p == ',') { ++p; continue; }
            if (p < end && *p == '}') { ++p; return true; }
            return false;
        }
    }
};
void appendString (std::string& out, const std::string& utf8)
{
    static const char* hex = "0123456789abcdef";
    out += '"';
    for (const char ch : utf8)
    {
        const auto c = (unsigned char) ch;
        switch (c)
        {
            case '"':  out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) { out += "\\u00"; out += hex[c >> 4]; out += hex[c & 15]; }
                else out += ch;
        }
    }
    out += '"';
}

/** Python's float repr: the shortest digits that read back to ``d``; fixed notation when the
    decimal exponent is in [-4, 16) (with ".0" when integral), else d.ddde+XX / d.ddde-XX. */
void appendDouble (std::string& out, double d)
{
    if (! std::isfinite (d)) { out += "null"; return; }
    char buf[64];
    const auto r = std::to_chars (buf, buf + sizeof (buf), d, std::chars_format::scientific);
    const std::string sci (buf, r.ptr);                  // e.g. "-1.2345e+02", "1e-07"
    const auto ePos = sci.find ('e');
    const bool negative = sci[0] == '-';
    std::string digits;
    for (size_t i = negative ? 1 : 0; i < ePos; ++i)
        if (sci[i] != '.')
            digits += sci[i];
    const int exp = std::atoi (sci.c_str() + ePos + 1);
    if (negative)
        out += '-';
    if (exp >= -4 && exp < 16)
    {
        if (exp < 0)
        {
            out += "0." + std::string ((size_t) (-exp - 1), '0') + digits;
            return;
        }
        const auto intLen = (size_t) exp + 1;
        if (digits.size() <= intLen)
            out += digits + std::string (intLen - digits.size(), '0') + ".0";
        else
            out += digits.substr (0, intLen) + "." + digits.substr (intLen);
        return;
    }
    out += digits.substr (0, 1);
    if (digits.size() > 1)
        out += "." + digits.substr (1);
    const int mag = std::abs (exp);
    out += exp < 0 ? "e-" : "e+";
    if (mag < 10)
        out += '0';
    out += std::to_string (mag);
}

void appendJson (std::string& out, const juce::var& v)
{
    if (v.isBool()) { out += (bool) v ? "true" : "false"; return; }
    if (v.isInt() || v.isInt64()) { out += std::to_string ((juce::int64) v); return; }
    if (v.isDouble()) { appendDouble (out, (double) v); return; }
    if (v.isString()) { appendString (out, v.toString().toStdString()); return; }
    if (auto* a = v.getArray())
    {
        out += '[';
        for (int i = 0; i < a->size(); ++i)
        {
            if (i > 0) out += ',';
            appendJson (out, a->getReference (i));
        }
        out += ']';
        return;
    }
    if (auto* o = v.getDynamicObject())
    {
        std::vector<std::pair<std::string, juce::var>> items;  // UTF-8 byte order == code point order
        for (auto& p : o->getProperties())
            items.emplace_back (p.name.toString().toStdString(), p.value);
        std::sort (items.begin(), items.end(), [] (const auto& x, const auto& y) { return x.first < y.first; });
        out += '{';
        for (size_t i = 0; i < items.size(); ++i)
        {
            if (i > 0) out += ',';
            appendString (out, items[i].first);
            out += ':';
            appendJson (out, items[i].second);
        }
        out += '}';
        return;
    }
    out += "null"; // void, undefined (and anything JSON cannot hold)
}
} // namespace

bool parseJson (const char* text, std::size_t size, juce::var& out)
{
    Reader r { text, text + size };
    if (! r.value (out))
        return false;
    r.skipSpace();
    return r.p == r.end;
}

std::string canonicalJson (const juce::var& v)
{
    std::string out;
    appendJson (out, v);
    return out;
}
} // namespace topline::wire
