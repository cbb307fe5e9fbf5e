#include "TakeList.h"

#include "EditorParts.h"

namespace topline
{
TakeList::TakeList()
{
    list.setRowHeight (26);
    list.setColour (juce::ListBox::backgroundColourId, ui::panel);
    list.setMultipleSelectionEnabled (false);
    list.setTitle ("Takes");
    list.setWantsKeyboardFocus (true);
    addAndMakeVisible (list);
}

static bool readTake (const juce::File& json, TakeInfo& out)
{
    juce::var v;
    if (juce::JSON::parse (json.loadFileAsString(), v).failed() || ! v.isObject())
        return false;
    // the plugin writes {job, take: <take metadata>, tempo_map, lyrics}; host_bridge/takes.py's
    // files carry the take metadata at the top level
    const auto t = v.hasProperty ("take") ? v["take"] : v;
    out.number = json.getFileNameWithoutExtension().fromFirstOccurrenceOf ("take-", false, false).getIntValue();
    out.wav = json.withFileExtension ("wav").getFullPathName();
    out.artist = t["artist"].toString();
    out.seed = (int) t.getProperty ("seed", 0);
    out.score = t["score"];
    out.tempoMap = v.hasProperty ("tempo_map") ? v["tempo_map"] : t["score"]["tempo_map"];
    out.time = juce::File (out.wav).getLastModificationTime();
    return true;
}

void TakeList::refresh (const juce::File& folder, double hostBpm, double hostQn)
{
    const auto now = juce::Time::getCurrentTime();
    const bool rescan = folder.getFullPathName() != folderPath || (now - lastScan).inSeconds() >= 1.0;
    std::vector<TakeInfo> next;
    if (rescan)
    {
        if (folder.getFullPathName() != folderPath)
            repaint(); // the "no takes yet in <folder>" line
        folderPath = folder.getFullPathName();
        lastScan = now;
        for (auto& f : folder.findChildFiles (juce::File::findFiles, false, "take-*.json"))
        {
            const auto wav = f.withFileExtension ("wav");
            if (! wav.existsAsFile())
                continue; // still being written (the WAV appears last) or deleted
            auto& c = cache[f.getFullPathName()];
            const auto modified = f.getLastModificationTime();
            if (c.modified != modified || c.info.wav.isEmpty())
            {
                if (! readTake (f, c.info))
                    continue;
                c.modified = modified;
            }
            next.push_back (c.info);
        }
        std::sort (next.begin(), next.end(), [] (const TakeInfo& a, const TakeInfo& b) { return a.number > b.number; });
    }
    else
    {
        next = items;
    }
    for (auto& t : next)
    {
        const double made = ui::tempoAt (t.tempoMap, hostQn);
        t.stale = hostBpm > 0 && made > 0 && std::abs (made - hostBpm) > 0.01;
    }
    bool changed = next.size() != items.size();
    for (size_t i = 0; ! changed && i < next.size(); ++i)
        changed = next[i].wav != items[i].wav || next[i].stale != items[i].stale || next[i].artist != items[i].artist;
    if (! changed)
        return;
    const auto selected = selectedRow() >= 0 && selectedRow() < (int) items.size() ? items[(size_t) selectedRow()].wav : juce::String();
    items = std::move (next);
    list.updateContent();
    list.repaint();
    if (selected.isNotEmpty())
        selectWav (selected);
}

void TakeList::paintOverChildren (juce::Graphics& g)
{
    if (! items.empty())
        return;
    g.setColour (ui::dim);
    g.setFont (juce::Font (13.0f));
    g.drawFittedText ("No takes yet in " + folderPath + "\nCapture the song, then Generate", getLocalBounds().reduced (8),
                      juce::Justification::centred, 3);
}

void TakeList::selectWav (const juce::String& wav)
{
    for (size_t i = 0; i < items.size(); ++i)
        if (items[i].wav == wav)
        {
            if (list.getSelectedRow() != (int) i)
                list.selectRow ((int) i);
            return;
        }
}

void TakeList::paintListBoxItem (int row, juce::Graphics& g, int width, int height, bool selected)
{
    if (row < 0 || row >= (int) items.size())
        return;
    const auto& t = items[(size_t) row];
    if (selected)
        g.fillAll (ui::accent.withAlpha (0.45f));
    auto r = juce::Rectangle<int> (0, 0, width, height).reduced (6, 0);
    g.setFont (juce::Font (14.0f, juce::Font::bold));
    g.setColour (ui::text);
    g.drawText ("#" + juce::String (t.number), r.removeFromLeft (48), juce::Justification::centredLeft);
    g.setFont (juce::Font (14.0f));
    g.drawText (t.artist, r.removeFromLeft (juce::jmax (60, width / 4)), juce::Justification::centredLeft);
    g.setColour (ui::dim);
    g.drawText ("seed " + juce::String (t.seed), r.removeFromLeft (70), juce::Justification::centredLeft);
    g.drawText (t.time.formatted ("%H:%M:%S"), r.removeFromLeft (70), juce::Justification::centredLeft);
    if (t.stale)
    {
        g.setColour (ui::warn);
        g.drawText ("stale (tempo)", r, juce::Justification::centredRight);
    }
}

void TakeList::selectedRowsChanged (int row)
{
    if (row >= 0 && row < (int) items.size() && onSelect)
        onSelect (items[(size_t) row]);
}

void TakeList::listBoxItemDoubleClicked (int row, const juce::MouseEvent&)
{
    returnKeyPressed (row);
}

void TakeList::returnKeyPressed (int row)
{
    if (row >= 0 && row < (int) items.size() && onPlay)
        onPlay (items[(size_t) row]);
}

juce::var TakeList::getDragSourceDescription (const juce::SparseSet<int>& rows)
{
    if (rows.isEmpty() || rows[0] >= (int) items.size())
        return {};
    return "take:" + items[(size_t) rows[0]].wav;   // dragged outside the editor: the WAV file
}

juce::String TakeList::getTooltipForRow (int row)
{
    if (row < 0 || row >= (int) items.size())
        return {};
    const auto& t = items[(size_t) row];
    return juce::File (t.wav).getFileName() + (t.stale ? ": made for another tempo; re-sing it for this one" : juce::String());
}
} // namespace topline
