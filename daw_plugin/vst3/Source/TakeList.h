// The takes of this project's takes folder (take-NNNN.json beside each WAV): number, artist,
// seed, time, and a stale marker when the host's tempo no longer matches the tempo the take was
// made for. Read on the message thread when the folder changes (small JSON files, cached by time).
#pragma once
#include <juce_gui_basics/juce_gui_basics.h>

#include <map>

namespace topline
{
struct TakeInfo
{
    int number = 0;
    juce::String wav, artist;
    int seed = 0;
    juce::Time time;
    juce::var score, tempoMap;
    bool stale = false;
};

class TakeList final : public juce::Component, private juce::ListBoxModel
{
public:
    TakeList();
    /** Rescans ``folder`` (cheap when nothing changed) and marks takes stale against the host's
        tempo ``hostBpm`` at quarter note ``hostQn`` (no mark when the host gave no tempo). */
    void refresh (const juce::File& folder, double hostBpm, double hostQn);
    const std::vector<TakeInfo>& takes() const { return items; }
    int selectedRow() const { return list.getSelectedRow(); }
    void selectWav (const juce::String& wav);
    std::function<void (const TakeInfo&)> onSelect, onPlay;
    void resized() override { list.setBounds (getLocalBounds()); }
    void paintOverChildren (juce::Graphics&) override;
    juce::ListBox& listBox() { return list; }

private:
    int getNumRows() override { return (int) items.size(); }
    void paintListBoxItem (int row, juce::Graphics&, int width, int height, bool selected) override;
    void selectedRowsChanged (int row) override;
    void listBoxItemDoubleClicked (int row, const juce::MouseEvent&) override;
    void returnKeyPressed (int row) override;
    juce::var getDragSourceDescription (const juce::SparseSet<int>& rows) override;
    juce::String getTooltipForRow (int row) override;

    struct Cached
    {
        juce::Time modified;
        TakeInfo info;
    };
    juce::ListBox list { "Takes", this };
    std::vector<TakeInfo> items;
    std::map<juce::String, Cached> cache;
    juce::String folderPath;
    juce::Time lastScan;
};
} // namespace topline
