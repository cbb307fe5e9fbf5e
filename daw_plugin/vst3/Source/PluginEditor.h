// A minimal editor: lyrics, artist, guide melody, Capture / Generate / Cancel, progress, and the
// take file to drag onto a track. Everything it does is also reachable without it: the
// parameters (host generic view) and the saved state.
#pragma once
#include <juce_audio_utils/juce_audio_utils.h>

#include "PluginProcessor.h"

namespace topline
{
class ToplineEditor final : public juce::AudioProcessorEditor,
                            public juce::DragAndDropContainer,
                            private juce::Timer
{
public:
    explicit ToplineEditor (ToplineProcessor&);
    ~ToplineEditor() override;
    void paint (juce::Graphics&) override;
    void resized() override;

private:
    /** The take file: drag it out onto a track. */
    struct TakeTile final : public juce::Component
    {
        juce::String path;
        void paint (juce::Graphics&) override;
        void mouseDrag (const juce::MouseEvent&) override;
    };

    void timerCallback() override;
    void chooseFile (const juce::String& title, const juce::String& pattern, std::function<void (juce::File)> then);

    ToplineProcessor& proc;
    juce::TextEditor lyrics;
    juce::TextButton loadLyrics { "Load lyrics..." }, melody { "Guide melody..." }, generateButton { "Generate" },
        cancelButton { "Cancel" };
    juce::ToggleButton captureButton { "Capture" };
    juce::ComboBox artist, monitorBox;
    juce::Label status, melodyLabel;
    double progress = -1.0;
    juce::ProgressBar progressBar { progress };
    TakeTile takeTile;
    std::unique_ptr<juce::ButtonParameterAttachment> captureAttachment;
    std::unique_ptr<juce::ComboBoxParameterAttachment> monitorAttachment;
    std::unique_ptr<juce::FileChooser> chooser;
    juce::StringArray shownArtists;

    JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR (ToplineEditor)
};
} // namespace topline
