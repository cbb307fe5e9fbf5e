// The editor: where a musician works with Topline. Everything it does is also reachable without
// it (the parameters in a host's generic view, the saved state).
//   top     the sidecar's state, always visible, with the fix when it is not there
//   left    artist (description, language, range from the sidecar), language, lyrics,
//           guide melody (a MIDI file, or "compose for me" with a seed)
//   right   the takes (number, artist, seed, time, stale marker) and the selected take's melody
//           in a piano roll with the lyric under each note
//   bottom  Capture / Generate / Cancel, progress and the phrase being sung, what to do when
//           something is wrong, the take to drag onto a track
// Keyboard: Tab moves through the controls; Ctrl+Return generates, Ctrl+Shift+Return auditions,
// Escape cancels.
// $TOPLINE_EDITOR_STATE names a JSON file the editor rewrites when what it shows changes (tests,
// support): the banner, artists, progress, message, takes, notes drawn, its size.
#pragma once
#include <juce_audio_utils/juce_audio_utils.h>

#include "EditorParts.h"
#include "PluginProcessor.h"
#include "TakeList.h"

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
    bool keyPressed (const juce::KeyPress&) override;

private:
    /** The current take's file: drag it out onto a track. */
    struct TakeTile final : public juce::Component
    {
        juce::String path;
        void paint (juce::Graphics&) override;
        void mouseDrag (const juce::MouseEvent&) override;
    };

    void setUpControls (const Settings&);
    void setUpActions();
    void setUpFocusOrder();
    void timerCallback() override;
    void showArtists (const Status&, const Settings&);
    void showProgress (const Status&, const Settings&);
    void showMessage (const Status&, const Settings&);
    void chooseFile (const juce::String& title, const juce::String& pattern, std::function<void (juce::File)> then);
    void chooseMelody (const juce::File&);
    bool shouldDropFilesWhenDraggedExternally (const juce::DragAndDropTarget::SourceDetails&, juce::StringArray& files,
                                               bool& canMoveFiles) override;
    void writeStateFile (const Status&, const Settings&);

    ToplineProcessor& proc;
    SidecarBanner banner;
    juce::Label artistLabel { {}, "Artist" }, artistInfo, languageLabel { {}, "Language" }, seedLabel { {}, "Seed" },
        melodyLabel, status, phrase, message;
    juce::ComboBox artist, language, monitorBox;
    juce::TextEditor lyrics, seed;
    juce::TextButton loadLyrics { "Load lyrics..." }, melody { "Guide melody..." }, compose { "Compose for me" },
        inputWav { "Input WAV..." }, generateButton { "Generate" }, cancelButton { "Cancel" }, resing { "Re-sing (new seed)" };
    juce::ToggleButton captureButton { "Capture" };
    double progress = -1.0;
    juce::ProgressBar progressBar { progress };
    TakeList takeList;
    PianoRoll pianoRoll;
    TakeTile takeTile;
    AuditionBar auditionBar;
    std::unique_ptr<juce::ButtonParameterAttachment> captureAttachment;
    std::unique_ptr<juce::ComboBoxParameterAttachment> monitorAttachment;
    std::unique_ptr<juce::FileChooser> chooser;
    juce::StringArray shownArtists;
    juce::String localMessage;       // a problem found here (a melody file that is not MIDI)
    juce::String lastStateJson, shownTake;
    juce::File stateFile;
    bool focusTaken = false;
    juce::TooltipWindow tooltips { this };

    JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR (ToplineEditor)
};
} // namespace topline
