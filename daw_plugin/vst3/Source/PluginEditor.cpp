#include "PluginEditor.h"

namespace topline
{
ToplineEditor::ToplineEditor (ToplineProcessor& p) : AudioProcessorEditor (p), proc (p)
{
    const auto s = proc.getSettings();
    lyrics.setMultiLine (true, true);
    lyrics.setReturnKeyStartsNewLine (true);
    lyrics.setTextToShowWhenEmpty ("[Verse]\nType the lyrics here...", juce::Colours::grey);
    lyrics.setText (s.lyrics, false);
    lyrics.onTextChange = [this] { proc.updateSettings ([t = lyrics.getText()] (Settings& st) { st.lyrics = t; }); };
    loadLyrics.onClick = [this] {
        chooseFile ("Load lyrics", "*.txt;*.lrc", [this] (juce::File f) { lyrics.setText (f.loadFileAsString(), true); });
    };
    melody.onClick = [this] {
        chooseFile ("Guide melody (MIDI)", "*.mid;*.midi", [this] (juce::File f) {
            proc.updateSettings ([f] (Settings& st) { st.melodyPath = f.getFullPathName(); });
        });
    };
    melodyLabel.setText (s.melodyPath.isEmpty() ? "no guide melody: the composer writes one" : s.melodyPath,
                         juce::dontSendNotification);
    artist.setTextWhenNothingSelected (s.artist);
    artist.onChange = [this] {
        const int i = artist.getSelectedItemIndex();
        if (i >= 0 && i < shownArtists.size())
            proc.updateSettings ([a = shownArtists[i]] (Settings& st) { st.artist = a; });
    };
    generateButton.onClick = [this] { proc.requestGenerate(); };
    cancelButton.onClick = [this] { proc.requestCancel(); };
    monitorBox.addItemList (proc.monitor->choices, 1);
    captureAttachment = std::make_unique<juce::ButtonParameterAttachment> (*proc.capture, captureButton);
    monitorAttachment = std::make_unique<juce::ComboBoxParameterAttachment> (*proc.monitor, monitorBox);
    status.setJustificationType (juce::Justification::centredLeft);
    for (auto* c : std::initializer_list<juce::Component*> { &lyrics, &loadLyrics, &melody, &melodyLabel, &artist, &captureButton,
                                                            &generateButton, &cancelButton, &monitorBox, &progressBar, &status,
                                                            &takeTile })
        addAndMakeVisible (c);
    proc.requestArtists();
    setSize (560, 420);
    startTimerHz (10);
}

ToplineEditor::~ToplineEditor() { stopTimer(); }

void ToplineEditor::paint (juce::Graphics& g)
{
    g.fillAll (juce::Colour (0xff1d2126));
    g.setColour (juce::Colours::white);
    g.setFont (18.0f);
    g.drawText ("Topline", 12, 6, 200, 24, juce::Justification::centredLeft);
}

void ToplineEditor::resized()
{
    auto r = getLocalBounds().reduced (12);
    r.removeFromTop (26);
    auto row = r.removeFromTop (28);
    artist.setBounds (row.removeFromLeft (180));
    row.removeFromLeft (8);
    loadLyrics.setBounds (row.removeFromLeft (110));
    row.removeFromLeft (8);
    melody.setBounds (row.removeFromLeft (120));
    r.removeFromTop (4);
    melodyLabel.setBounds (r.removeFromTop (20));
    auto bottom = r.removeFromBottom (120);
    lyrics.setBounds (r.reduced (0, 4));
    auto b1 = bottom.removeFromTop (30);
    captureButton.setBounds (b1.removeFromLeft (100));
    generateButton.setBounds (b1.removeFromLeft (100).reduced (2));
    cancelButton.setBounds (b1.removeFromLeft (80).reduced (2));
    monitorBox.setBounds (b1.removeFromRight (180));
    bottom.removeFromTop (4);
    progressBar.setBounds (bottom.removeFromTop (20));
    status.setBounds (bottom.removeFromTop (26));
    takeTile.setBounds (bottom.reduced (0, 2));
}

void ToplineEditor::timerCallback()
{
    const auto st = proc.getStatus();
    const auto s = proc.getSettings();
    progress = st.jobRunning ? juce::jlimit (0.0, 1.0, st.progress) : (st.progress >= 1.0 ? 1.0 : -1.0);
    auto text = st.text;
    if (st.error.isNotEmpty())
        text << " | " << st.error << (st.hint.isNotEmpty() ? " (" + st.hint + ")" : juce::String());
    status.setText (text, juce::dontSendNotification);
    if (st.artists != shownArtists && ! st.artists.isEmpty())
    {
        shownArtists = st.artists;
        artist.clear (juce::dontSendNotification);
        for (int i = 0; i < st.artists.size(); ++i)
            artist.addItem (st.artistNames[i].isNotEmpty() ? st.artistNames[i] : st.artists[i], i + 1);
        artist.setSelectedItemIndex (juce::jmax (0, shownArtists.indexOf (s.artist)), juce::dontSendNotification);
    }
    melodyLabel.setText (s.melodyPath.isEmpty() ? "no guide melody: the composer writes one" : s.melodyPath,
                         juce::dontSendNotification);
    const auto path = s.take["path"].toString();
    if (path != takeTile.path)
    {
        takeTile.path = path;
        takeTile.repaint();
    }
}

void ToplineEditor::chooseFile (const juce::String& title, const juce::String& pattern, std::function<void (juce::File)> then)
{
    chooser = std::make_unique<juce::FileChooser> (title, juce::File(), pattern);
    chooser->launchAsync (juce::FileBrowserComponent::openMode | juce::FileBrowserComponent::canSelectFiles,
                          [then] (const juce::FileChooser& fc) {
                              if (fc.getResult().existsAsFile())
                                  then (fc.getResult());
                          });
}

void ToplineEditor::TakeTile::paint (juce::Graphics& g)
{
    g.setColour (path.isEmpty() ? juce::Colour (0xff2a2f36) : juce::Colour (0xff2f5d8a));
    g.fillRoundedRectangle (getLocalBounds().toFloat(), 6.0f);
    g.setColour (juce::Colours::white);
    g.drawFittedText (path.isEmpty() ? juce::String ("No take yet") : "Drag onto a track: " + juce::File (path).getFileName(),
                      getLocalBounds().reduced (8), juce::Justification::centred, 2);
}

void ToplineEditor::TakeTile::mouseDrag (const juce::MouseEvent&)
{
    if (path.isNotEmpty() && juce::File (path).existsAsFile())
        juce::DragAndDropContainer::performExternalDragDropOfFiles ({ path }, false, this);
}
} // namespace topline
