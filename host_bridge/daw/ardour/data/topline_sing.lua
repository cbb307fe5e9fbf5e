ardour {
	["type"]    = "EditorAction",
	name        = "Topline: sing the selection",
	license     = "Apache-2.0",
	author      = "Topline",
	description = [[Sing the session's lyrics over the selected bus (or track) across the selected bars.
Exports what the bus sends to the master over those bars, asks Topline for a take, and imports it
on a new track at the first selected bar, in beat time. Store the lyrics sheet and guide melody once:
  topline ardour setup SESSION --lyrics lyrics.txt --melody guide.mid
Install with `topline ardour install`, then bind the action to a key.]]
}

-- Runs in Ardour's GUI. The musician's Ardour stays open: this script does the Ardour side
-- (save, solo + export, import, rename, save) and calls the `topline` command for the rest
-- (`topline ardour sing --capture ... --no-place`, then `topline ardour link`). Set TOPLINE_CLI
-- in Ardour's environment when `topline` is not on its PATH. Ardour waits while the take is sung.

function factory (params) return function ()
	local TOPLINE = os.getenv ("TOPLINE_CLI") or "topline"
	local PRESET = "5a0b6c1e-7f3d-4c1b-9e55-70711e000001" -- Topline float WAV (topline ardour install)
	local STOCK_PRESET = "75969a1c-3133-4694-864b-a1fa50e43348" -- Ardour's "WAV @ session-rate"

	local function fail (msg)
		LuaDialog.Message ("Topline", msg, LuaDialog.MessageType.Error, LuaDialog.ButtonType.Close):run ()
	end
	local function q (s) return "'" .. tostring (s):gsub ("'", "'\\''") .. "'" end

	-- 1. the bus: the first selected track or bus
	local sel = Editor:get_selection ()
	local route = nil
	for r in sel.tracks:routelist ():iter () do route = r; break end
	if not route then
		fail ("Select the instrumental bus (or track) to sing over, and the bars to sing.")
		return
	end

	-- 2. the bars: those the time selection touches (else the loop range, else the session range)
	local tm = Temporal.TempoMap.read ()
	local s, e = nil, nil
	local ok = pcall (function ()
		if sel.time:length ():samples () > 0 then s = sel.time:start_time (); e = sel.time:end_time () end
	end)
	if not ok or not s then
		local loc = Session:locations ():auto_loop_location ()
		if loc and not loc:isnil () then s = loc:start (); e = loc:_end () end
	end
	if not s then
		local loc = Session:locations ():session_range_location ()
		if loc and not loc:isnil () then s = loc:start (); e = loc:_end () end
	end
	if not s then fail ("Select the bars to sing (a time range), or set a loop range."); return end
	local first = tm:bbt_at (s).bars
	-- a selection ending on a bar line (BBT rounds to the nearest tick) ends with the bar before
	local eb = tm:bbt_at (e)
	local last = eb.bars
	if eb.beats == 1 and eb.ticks == 0 then last = last - 1 end
	if last < first then last = first end
	local function bar_sample (bar)
		return tm:sample_at_beats (tm:quarters_at_bbt (Temporal.BBT_TIME (bar, 1, 0)))
	end
	local start_sample, end_sample = bar_sample (first), bar_sample (last + 1)

	-- 3. save (Topline reads the tempo map from the file), then export the bus soloed
	Session:save_state ("", false, false, false, false, false)
	local dir = Session:path ()
	if dir:sub (-1) ~= "/" then dir = dir .. "/" end
	local file = dir .. Session:snap_name () .. ".ardour"
	local capdir = dir .. "topline/capture"
	os.execute ("mkdir -p " .. q (capdir))
	local was_soloed = route:solo_control ():get_value ()
	if not route:is_master () then route:solo_control ():set_value (1, PBD.GroupControlDisposition.NoGroup) end
	local ex = Session:simple_export ()
	ex:set_folder (capdir)
	ex:set_range (start_sample, end_sample)
	if not ex:set_preset (PRESET) then ex:set_preset (STOCK_PRESET) end
	local exported = ex:check_outputs () and ex:run_export ()
	if not route:is_master () then route:solo_control ():set_value (was_soloed, PBD.GroupControlDisposition.NoGroup) end
	if not exported then fail ("Ardour could not export " .. route:name () .. "."); return end
	local capture = nil
	local ls = io.popen ("ls -t " .. q (capdir) .. "/*.wav 2>/dev/null")
	if ls then capture = ls:read ("*l"); ls:close () end
	if not capture then fail ("The export of " .. route:name () .. " wrote no file."); return end

	-- 4. sing (Ardour waits here)
	local cmd = TOPLINE .. " ardour sing " .. q (file) .. " --bus " .. q (route:name ()) ..
		" --bars " .. first .. "-" .. last .. " --capture " .. q (capture) .. " --no-place --json 2>&1"
	local p = io.popen (cmd)
	local out = p and p:read ("*a") or ""
	if p then p:close () end
	os.remove (capture)
	local take_id = out:match ('"take_id": "([^"]+)"')
	local track = out:match ('"track": "([^"]+)"')
	local stem = out:match ('"stem": "([^"]+)"')
	if not take_id or not track or not stem then fail ("Topline could not sing:\n" .. out); return end

	-- 5. import the take on a new track at the first bar, in beat time; name the track; save; link
	local wav = dir .. stem
	local files = C.StringVector ()
	files:push_back (wav)
	local qb, qt = tm:quarters_at_bbt (Temporal.BBT_TIME (first, 1, 0)):str ():match ("^(%d+):(%d+)$")
	local pos = Temporal.timepos_t.from_ticks (tonumber (qb) * Temporal.ticks_per_beat + tonumber (qt))
	Editor:do_import (files, Editing.ImportDistinctFiles, Editing.ImportAsTrack, ARDOUR.SrcQuality.SrcBest,
		ARDOUR.MidiTrackNameSource.SMFTrackName, ARDOUR.MidiTempoMapDisposition.SMFTempoIgnore,
		pos, ARDOUR.PluginInfo (), ARDOUR.Track (), false)
	local new = Session:route_by_name (stem:match ("([^/]+)%.wav$"))
	if new and not new:isnil () then new:set_name (track) end
	Session:save_state ("", false, false, false, false, false)
	os.execute (TOPLINE .. " ardour link " .. q (file) .. " --take " .. q (take_id) .. " >/dev/null 2>&1")
end end
