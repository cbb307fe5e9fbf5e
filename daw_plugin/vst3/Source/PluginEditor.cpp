#include "PluginEditor.h"

namespace topline
{
static const juce::StringArray kLanguages { "", "en-us", "en-gb", "de", "es", "fr", "it", "pt-br", "pt" };

ToplineEditor::ToplineEditor (ToplineProcessor& p) : AudioProcessorEditor (p), proc (p)
{
    const auto s = proc.getSettings();
    setUpControls (s);
    setUpFocusOrder();
    const auto dump = juce::SystemStats::getEnvironmentVariable ("TOPLINE_EDITOR_STATE", {});
    if (dump.isNotEmpty())
        stateFile = juce::File (dump);
    proc.requestArtists();
    setResizable (true, true);
    setResizeLimits (640, 460, 2800, 2000);
    setSize (920, 620);
    setWantsKeyboardFocus (true);
    // hosts pass their display scale through setScaleFactor(); $TOPLINE_UI_SCALE asks for one
    // where nothing does (the Standalone on a desktop JUCE cannot read the scale of, tests)
    if (const auto f = juce::SystemStats::getEnvironmentVariable ("TOPLINE_UI_SCALE", {}).getFloatValue(); f >= 0.5f && f <= 4.0f)
        setScaleFactor (f);
    startTimerHz (10);
}

ToplineEditor::~ToplineEditor() { stopTimer(); }

void ToplineEditor::setUpControls (const Settings& s)
{
    lyrics.setMultiLine (true, true);
    lyrics.setReturnKeyStartsNewLine (true);
    lyrics.setTextToShowWhenEmpty ("[Verse]\nType the lyrics here, one sung line per line...", juce::Colours::grey);
    lyrics.setFont (juce::Font (15.0f));
    lyrics.setText (s.lyrics, false);
    lyrics.setTitle ("Lyrics");
    lyrics.onTextChange = [this] { proc.updateSettings ([t = lyrics.getText()] (Settings& st) { st.lyrics = t; }); };
    loadLyrics.onClick = [this] {
        chooseFile ("Load lyrics", "*.txt;*.lrc", [this] (juce::File f) { lyrics.setText (f.loadFileAsString(), true); });
    };
    melody.onClick = [this] { chooseFile ("Guide melody (MIDI)", "*.mid;*.midi", [this] (juce::File f) { chooseMelody (f); }); };
    compose.onClick = [this] {
        localMessage = {};
        proc.updateSettings ([] (Settings& st) { st.melodyPath = {}; });
    };
    inputWav.onClick = [this] {
        chooseFile ("Input WAV (played as the input)", "*.wav;*.flac;*.aiff", [this] (juce::File f) {
            proc.updateSettings ([f] (Settings& st) { st.inputWav = f.getFullPathName(); });
        });
    };
    seed.setInputRestrictions (9, "0123456789");
    seed.setText (juce::String (s.seed), false);
    seed.setTitle ("Seed");
    seed.onTextChange = [this] { proc.updateSettings ([v = seed.getText().getIntValue()] (Settings& st) { st.seed = v; }); };
    artist.setTextWhenNothingSelected (s.artist);
    artist.setTitle ("Artist");
    artist.onChange = [this] {
        const int i = artist.getSelectedItemIndex();
        if (i >= 0 && i < shownArtists.size())
            proc.updateSettings ([a = shownArtists[i]] (Settings& st) { st.artist = a; });
    };
    for (int i = 0; i < kLanguages.size(); ++i)
        language.addItem (i == 0 ? juce::String ("From the lyrics / artist") : kLanguages[i], i + 1);
    language.setSelectedItemIndex (juce::jmax (0, kLanguages.indexOf (s.language)), juce::dontSendNotification);
    language.setTitle ("Language");
    language.onChange = [this] {
        proc.updateSettings ([l = kLanguages[juce::jmax (0, language.getSelectedItemIndex())]] (Settings& st) { st.language = l; });
    };
    setUpActions();
}

void ToplineEditor::setUpActions()
{
    generateButton.onClick = [this] { localMessage = {}; proc.requestGenerate(); };
    auditionBar.onAudition = [this] { localMessage = {}; proc.requestAudition(); };
    auditionBar.onHear = [this] (int clip) { proc.requestClip (clip); };
    cancelButton.onClick = [this] { proc.requestCancel(); };
    resing.onClick = [this] {
        const int next = juce::Random::getSystemRandom().nextInt (1000000);
        seed.setText (juce::String (next), true);
        proc.requestGenerate();
    };
    generateButton.setTooltip ("Sing the captured section (Ctrl+Return)");
    cancelButton.setTooltip ("Stop the take being made (Escape)");
    monitorBox.addItemList (proc.monitor->choices, 1);
    monitorBox.setTitle ("Monitor");
    captureAttachment = std::make_unique<juce::ButtonParameterAttachment> (*proc.capture, captureButton);
    monitorAttachment = std::make_unique<juce::ComboBoxParameterAttachment> (*proc.monitor, monitorBox);
    artistInfo.setMinimumHorizontalScale (1.0f);
    artistInfo.setColour (juce::Label::textColourId, ui::dim);
    message.setColour (juce::Label::textColourId, ui::warn);
    message.setFont (juce::Font (15.0f, juce::Font::bold));
    phrase.setColour (juce::Label::textColourId, ui::dim);
    melodyLabel.setColour (juce::Label::textColourId, ui::dim);
    progressBar.setColour (juce::ProgressBar::foregroundColourId, ui::accent);
    progressBar.setColour (juce::ProgressBar::backgroundColourId, ui::panel);
    takeList.onSelect = [this] (const TakeInfo& t) {
        pianoRoll.setScore (t.score, "Take #" + juce::String (t.number) + ": " + t.artist + ", seed " + juce::String (t.seed));
    };
    takeList.onPlay = [this] (const TakeInfo& t) {   // play this take in place of the current one
        auto* o = new juce::DynamicObject();
        o->setProperty ("path", t.wav);
        o->setProperty ("tempo_map", t.tempoMap);
        o->setProperty ("artist", t.artist);
        o->setProperty ("seed", t.seed);
        juce::AudioFormatManager fm;
        fm.registerBasicFormats();
        if (std::unique_ptr<juce::AudioFormatReader> r (fm.createReaderFor (juce::File (t.wav))); r != nullptr)
        {
            o->setProperty ("sample_rate", r->sampleRate);
            o->setProperty ("start_sample", r->metadataValues.getValue ("TimeReference", "0").getLargeIntValue());
        }
        proc.updateSettings ([v = juce::var (o)] (Settings& st) { st.take = v; });
        proc.takeReloadRequests.fetch_add (1);
    };
    for (auto* c : std::initializer_list<juce::Component*> { &banner, &artistLabel, &artist, &artistInfo, &languageLabel, &language,
                                                            &loadLyrics, &lyrics, &melody, &compose, &seedLabel, &seed, &melodyLabel,
                                                            &takeList, &pianoRoll, &captureButton, &generateButton, &cancelButton,
                                                            &resing, &monitorBox, &progressBar, &status, &phrase, &message, &takeTile, &auditionBar })
        addAndMakeVisible (c);
    addChildComponent (inputWav);
    inputWav.setVisible (proc.isStandalone());
}

void ToplineEditor::setUpFocusOrder()
{
    int order = 1;
    for (auto* c : std::initializer_list<juce::Component*> { &artist, &language, &lyrics, &loadLyrics, &melody, &compose, &seed, &inputWav,
                                                            &captureButton, &generateButton, &cancelButton, &resing, &monitorBox,
                                                            &takeList.listBox(), &auditionBar.button(), &auditionBar.menu() })
    {
        c->setExplicitFocusOrder (order++);
        c->setWantsKeyboardFocus (true);
    }
}

bool ToplineEditor::keyPressed (const juce::KeyPress& key)
{
    if (key == juce::KeyPress (juce::KeyPress::returnKey, juce::ModifierKeys::commandModifier | juce::ModifierKeys::shiftModifier, 0))
    {
        auditionBar.button().triggerClick();
        return true;
    }
    if (key == juce::KeyPress (juce::KeyPress::returnKey, juce::ModifierKeys::commandModifier, 0))
    {
        generateButton.triggerClick();
        return true;
    }
    if (key == juce::KeyPress::escapeKey)
    {
        cancelButton.triggerClick();
        return true;
    }
    return false;
}

void ToplineEditor::paint (juce::Graphics& g)
{
    g.fillAll (ui::background);
    g.setColour (ui::text);
    g.setFont (juce::Font (20.0f, juce::Font::bold));
    g.drawText ("Topline", 12, 8, 120, 28, juce::Justification::centredLeft);
}

void ToplineEditor::resized()
{
    auto r = getLocalBounds().reduced (12, 8);
    auto top = r.removeFromTop (44);
    top.removeFromLeft (110);
    banner.setBounds (top);
    r.removeFromTop (8);
    auto bottom = r.removeFromBottom (150);
    auto left = r.removeFromLeft (r.getWidth() * 11 / 20);
    r.removeFromLeft (10);
    auto row = left.removeFromTop (28);
    artistLabel.setBounds (row.removeFromLeft (60));
    artist.setBounds (row.removeFromLeft (juce::jmin (220, row.getWidth() / 2)));
    row.removeFromLeft (8);
    languageLabel.setBounds (row.removeFromLeft (72));
    language.setBounds (row);
    artistInfo.setBounds (left.removeFromTop (40));
    auditionBar.setBounds (left.removeFromTop (28).withTrimmedRight (4));
    left.removeFromTop (4);
    auto mrow = left.removeFromBottom (28);
    loadLyrics.setBounds (mrow.removeFromLeft (110));
    mrow.removeFromLeft (6);
    melody.setBounds (mrow.removeFromLeft (120));
    mrow.removeFromLeft (6);
    compose.setBounds (mrow.removeFromLeft (124));
    mrow.removeFromLeft (6);
    seedLabel.setBounds (mrow.removeFromLeft (40));
    seed.setBounds (mrow.removeFromLeft (80));
    mrow.removeFromLeft (6);
    inputWav.setBounds (mrow.removeFromLeft (110));
    melodyLabel.setBounds (left.removeFromBottom (22));
    lyrics.setBounds (left.reduced (0, 4));
    takeList.setBounds (r.removeFromTop (r.getHeight() * 2 / 5));
    r.removeFromTop (8);
    pianoRoll.setBounds (r);
    auto b1 = bottom.removeFromTop (34).reduced (0, 3);
    captureButton.setBounds (b1.removeFromLeft (100));
    generateButton.setBounds (b1.removeFromLeft (110).reduced (2, 0));
    cancelButton.setBounds (b1.removeFromLeft (90).reduced (2, 0));
    resing.setBounds (b1.removeFromLeft (160).reduced (2, 0));
    monitorBox.setBounds (b1.removeFromRight (200));
    progressBar.setBounds (bottom.removeFromTop (22));
    status.setBounds (bottom.removeFromTop (22));
    phrase.setBounds (bottom.removeFromTop (20));
    message.setBounds (bottom.removeFromTop (24));
    takeTile.setBounds (bottom.reduced (0, 2));
}

void ToplineEditor::timerCallback()
{
    if (! focusTaken && isShowing())
    {   // keyboard first: Tab, Ctrl+Return and Escape work without a click into the window
        focusTaken = true;
        grabKeyboardFocus();
    }
    const auto st = proc.getStatus();
    const auto s = proc.getSettings();
    banner.set (st.sidecarState, st.sidecarDetail, st.artists.size());
    showArtists (st, s);
    showProgress (st, s);
    showMessage (st, s);
    auditionBar.update (st.clips, st.clipPlaying, st.auditionRunning);
    melodyLabel.setText (s.melodyPath.isEmpty() ? "Guide melody: none, the composer writes one (seed " + juce::String (s.seed) + ")"
                                                : "Guide melody: " + s.melodyPath,
                         juce::dontSendNotification);
    takeList.refresh (juce::File (s.takesDir), proc.hostBpm(), proc.hostPpq());
    const auto path = s.take["path"].toString();
    if (path != takeTile.path)
    {
        takeTile.path = path;
        takeTile.repaint();
    }
    if (path != shownTake && ! takeList.takes().empty())
    {   // a new take (or a restored project): select it, which shows its melody
        shownTake = path;
        takeList.selectWav (path);
    }
    if (stateFile != juce::File())
        writeStateFile (st, s);
}

void ToplineEditor::showArtists (const Status& st, const Settings& s)
{
    if (st.artists != shownArtists && st.artistsKnown)
    {
        shownArtists = st.artists;
        artist.clear (juce::dontSendNotification);
        for (int i = 0; i < st.artists.size(); ++i)
            artist.addItem (st.artistNames[i].isNotEmpty() ? st.artistNames[i] : st.artists[i], i + 1);
        const int i = shownArtists.indexOf (s.artist);
        if (i >= 0)
            artist.setSelectedItemIndex (i, juce::dontSendNotification);
        else
            artist.setText (s.artist + " (not on the sidecar)", juce::dontSendNotification);
    }
    const auto info = ui::findArtist (st.artistInfo, s.artist);
    artistInfo.setText (info.isObject() ? ui::artistSummary (info) : juce::String(), juce::dontSendNotification);
}

void ToplineEditor::showProgress (const Status& st, const Settings& s)
{
    progress = st.jobRunning ? juce::jlimit (0.0, 1.0, st.progress) : (st.progress >= 1.0 ? 1.0 : -1.0);
    status.setText (st.text, juce::dontSendNotification);
    juce::String p;
    if (st.auditionRunning || st.clipPlaying >= 0)
    {
        juce::StringArray names;
        for (auto& c : st.clips)
            names.add (c["artist"].toString());
        p = (st.auditionRunning ? "Audition clips so far: " : "Audition clips: ") + (names.isEmpty() ? "none yet" : names.joinIntoString (", "));
        if (st.clipPlaying >= 0 && st.clipPlaying < names.size())
            p << "; playing " << names[st.clipPlaying];
    }
    else if (st.jobRunning && st.phrasesDone > 0)
    {   // phrases follow the lyric lines (a new phrase at each line); name the line being sung
        juce::StringArray lines;
        for (auto& l : juce::StringArray::fromLines (s.lyrics))
            if (l.trim().isNotEmpty() && ! l.trim().startsWithChar ('['))
                lines.add (l.trim());
        p = "Sung " + juce::String (st.phrasesDone) + (st.phrasesDone == 1 ? " phrase" : " phrases");
        if (st.phrasesDone < lines.size())
            p << "; now singing: \"" << lines[st.phrasesDone] << "\"";
    }
    else if (! st.jobRunning && st.phrasesReused > 0)
    {   // the sidecar re-sang only what changed (its phrase cache holds the rest)
        p = st.phrasesRendered >= 0 ? "Re-sang " + juce::String (st.phrasesRendered) + (st.phrasesRendered == 1 ? " phrase, " : " phrases, ")
                                    : juce::String();
        p << st.phrasesReused << (st.phrasesReused == 1 ? " phrase" : " phrases") << " reused from earlier takes";
    }
    else if (! st.jobRunning && st.phrasesRendered > 0)
        p = "Sang " + juce::String (st.phrasesRendered) + (st.phrasesRendered == 1 ? " phrase" : " phrases") + ", none from earlier takes";
    phrase.setText (p, juce::dontSendNotification);
}

void ToplineEditor::showMessage (const Status& st, const Settings& s)
{
    juce::String m;
    if (st.error.isNotEmpty())
        m = st.error + (st.hint.isNotEmpty() ? ": " + st.hint : juce::String());
    else if (localMessage.isNotEmpty())
        m = localMessage;
    else if (st.artistsKnown && ! st.artists.contains (s.artist))
        m = "The artist \"" + s.artist + "\" is not on the sidecar any more: pick another in the Artist list";
    else if (s.lyrics.trim().isEmpty())
        m = "No lyrics yet: type or load them before Generate";
    message.setText (m, juce::dontSendNotification);
}

void ToplineEditor::chooseMelody (const juce::File& f)
{
    juce::MemoryBlock head;
    if (auto in = f.createInputStream(); in != nullptr)
        in->readIntoMemoryBlock (head, 4);
    if (head.getSize() < 4 || std::memcmp (head.getData(), "MThd", 4) != 0)
    {
        localMessage = f.getFileName() + " is not a MIDI file: export the melody as a Standard MIDI File (.mid), or Compose for me";
        return;
    }
    localMessage = {};
    proc.updateSettings ([f] (Settings& st) { st.melodyPath = f.getFullPathName(); });
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

bool ToplineEditor::shouldDropFilesWhenDraggedExternally (const juce::DragAndDropTarget::SourceDetails& d,
                                                          juce::StringArray& files, bool& canMoveFiles)
{
    const auto desc = d.description.toString();
    if (! desc.startsWith ("take:"))
        return false;
    files.add (desc.substring (5));
    canMoveFiles = false;
    return true;
}

void ToplineEditor::TakeTile::paint (juce::Graphics& g)
{
    g.setColour (path.isEmpty() ? ui::panel : juce::Colour (0xff2f5d8a));
    g.fillRoundedRectangle (getLocalBounds().toFloat(), 6.0f);
    g.setColour (ui::text);
    g.setFont (juce::Font (14.0f));
    g.drawFittedText (path.isEmpty() ? juce::String ("No take yet") : "Drag onto a track: " + juce::File (path).getFileName(),
                      getLocalBounds().reduced (8), juce::Justification::centred, 2);
}

void ToplineEditor::TakeTile::mouseDrag (const juce::MouseEvent&)
{
    if (path.isNotEmpty() && juce::File (path).existsAsFile())
        juce::DragAndDropContainer::performExternalDragDropOfFiles ({ path }, false, this);
}
} // namespace topline
