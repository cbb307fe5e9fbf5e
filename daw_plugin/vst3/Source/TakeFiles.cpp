#include "TakeFiles.h"

#include <cstdio>

namespace topline::takes
{
juce::File defaultFolder()
{
    auto env = juce::SystemStats::getEnvironmentVariable ("TOPLINE_TAKES_DIR", {});
    if (env.isNotEmpty())
        return juce::File (env);
    return juce::File::getSpecialLocation (juce::File::userMusicDirectory).getChildFile ("Topline Takes");
}

static bool claim (const juce::File& json)
{
    // "x": fails if the file exists, so two writers never share a number (like takes.py's hard link)
    if (auto* f = std::fopen (json.getFullPathName().toRawUTF8(), "wx"))
    {
        std::fclose (f);
        return true;
    }
    return false;
}

juce::File write (const juce::File& folder, const juce::AudioBuffer<float>& audio, double sampleRate,
                  juce::int64 startSample, const juce::var& metadata, juce::String& error)
{
    if (auto r = folder.createDirectory(); r.failed())
    {
        error = "cannot create the takes folder " + folder.getFullPathName() + ": " + r.getErrorMessage();
        return {};
    }
    juce::File json, wav;
    for (int n = 1; n < 100000; ++n)
    {
        auto stem = "take-" + juce::String (n).paddedLeft ('0', 4);
        wav = folder.getChildFile (stem + ".wav");
        json = folder.getChildFile (stem + ".json");
        if (! wav.exists() && claim (json))
            break;
        json = juce::File();
    }
    if (json == juce::File())
    {
        error = "no free take number in " + folder.getFullPathName();
        return {};
    }
    json.replaceWithText (juce::JSON::toString (metadata, false));
    auto part = folder.getChildFile ("." + wav.getFileName() + ".part");
    {
        juce::WavAudioFormat fmt;
        auto meta = juce::WavAudioFormat::createBWAVMetadata ("Topline take", "Topline", {}, juce::Time::getCurrentTime(),
                                                              startSample, {});
        std::unique_ptr<juce::OutputStream> os (part.createOutputStream());
        if (os == nullptr)
        {
            error = "cannot write " + part.getFullPathName();
            return {};
        }
        std::unique_ptr<juce::AudioFormatWriter> w (fmt.createWriterFor (os.get(), sampleRate, (unsigned) audio.getNumChannels(),
                                                                        32, meta, 0));
        if (w == nullptr)
        {
            error = "the WAV writer refused " + juce::String (audio.getNumChannels()) + " channels at " + juce::String (sampleRate);
            return {};
        }
        os.release(); // the writer owns the stream now
        // 32-bit WAV from the float writer path is IEEE float: write the samples unchanged
        if (! w->writeFromAudioSampleBuffer (audio, 0, audio.getNumSamples()))
        {
            error = "writing " + part.getFullPathName() + " failed (disk full?)";
            return {};
        }
    }
    if (! part.moveFileTo (wav))
    {
        error = "cannot rename " + part.getFullPathName() + " to " + wav.getFullPathName();
        return {};
    }
    return wav;
}

bool read (const juce::File& wav, juce::AudioBuffer<float>& audio, double& sampleRate, juce::String& error)
{
    juce::AudioFormatManager fm;
    fm.registerBasicFormats();
    std::unique_ptr<juce::AudioFormatReader> r (fm.createReaderFor (wav));
    if (r == nullptr)
    {
        error = "cannot read the take " + wav.getFullPathName() + " (moved or deleted?)";
        return false;
    }
    if (r->lengthInSamples > std::numeric_limits<int>::max() || r->numChannels < 1)
    {
        error = "the take " + wav.getFullPathName() + " is too long or has no channels";
        return false;
    }
    audio.setSize ((int) r->numChannels, (int) r->lengthInSamples);
    r->read (&audio, 0, (int) r->lengthInSamples, 0, true, true);
    sampleRate = r->sampleRate;
    return true;
}

juce::AudioBuffer<float> resample (const juce::AudioBuffer<float>& in, double fromRate, double toRate)
{
    // 4-point Lagrange at exactly t = k * fromRate / toRate (no latency, unlike
    // juce::LagrangeInterpolator's 2-sample delay: the take must stay on its sample).
    // No anti-alias filter when going down: a vocal has next to nothing above 20 kHz.
    const double ratio = fromRate / toRate;
    const int inLen = in.getNumSamples();
    const int outLen = (int) std::llround (inLen / ratio);
    juce::AudioBuffer<float> out (in.getNumChannels(), outLen);
    for (int c = 0; c < in.getNumChannels(); ++c)
    {
        const float* x = in.getReadPointer (c);
        float* y = out.getWritePointer (c);
        auto at = [x, inLen] (juce::int64 i) { return i >= 0 && i < inLen ? (double) x[i] : 0.0; };
        for (int k = 0; k < outLen; ++k)
        {
            const double t = k * ratio;
            const auto i = (juce::int64) std::floor (t);
            const double f = t - (double) i;
            if (f == 0.0)
            {
                y[k] = (float) at (i);
                continue;
            }
            const double ym1 = at (i - 1), y0 = at (i), y1 = at (i + 1), y2 = at (i + 2);
            y[k] = (float) (ym1 * (-f * (f - 1.0) * (f - 2.0) / 6.0) + y0 * ((f + 1.0) * (f - 1.0) * (f - 2.0) / 2.0)
                            + y1 * (-(f + 1.0) * f * (f - 2.0) / 2.0) + y2 * ((f + 1.0) * f * (f - 1.0) / 6.0));
        }
    }
    return out;
}
} // namespace topline::takes
