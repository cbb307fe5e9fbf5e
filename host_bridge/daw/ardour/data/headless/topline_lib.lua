-- Shared helpers for Topline's headless Ardour 7 scripts (run by `ardour7-lua`).
--
-- Every headless script is driven by environment variables (set by host_bridge.daw.ardour.runner)
-- and reports results on stdout as tab-separated lines starting with "TOPLINE", which the Python
-- side parses. A failed check prints "TOPLINE\terror\t<message>" and exits with status 3, so the
-- caller never mistakes a half-done run for success.
--
-- Traps of Ardour 7.3 handled here (see ../shared/FINDINGS.md):
--  * the Dummy backend is hidden unless set_hide_dummy_backend(false);
--  * sample_at_bbt() is bound to the Beats overload: go BBT -> quarters -> samples;
--  * output auto-connect runs in another thread: wait, then connect explicitly before saving;
--  * close_session() crashes after an export: exit directly (after saving, when saving).

local T = {}

function T.env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then
    if default == nil then T.fail("missing environment variable " .. name) end
    return default
  end
  return v
end

function T.report(...)
  local parts = { "TOPLINE" }
  for _, v in ipairs({ ... }) do parts[#parts + 1] = tostring(v) end
  print(table.concat(parts, "\t"))
  io.stdout:flush()
end

function T.fail(msg)
  T.report("error", msg)
  os.exit(3)
end

-- Split an environment variable into lines, each line into tab-separated fields.
function T.records(name)
  local out = {}
  local v = os.getenv(name) or ""
  for line in v:gmatch("[^\n]+") do
    local f = {}
    for field in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = field end
    out[#out + 1] = f
  end
  return out
end

function T.start_backend()
  ARDOUR.config():set_hide_dummy_backend(false)
  local b = AudioEngine:set_backend("None (Dummy)", "", "")
  if not b or b:isnil() then T.fail("the None (Dummy) audio backend is not available") end
end

function T.load()
  local dir, name = T.env("TOPLINE_SESSION_DIR"), T.env("TOPLINE_SESSION_NAME")
  T.start_backend()
  if not load_session(dir, name) then T.fail("Ardour could not load session " .. dir .. " / " .. name) end
  T.report("loaded", Session:nominal_sample_rate())
end

function T.bar_sample(tm, bar)
  return tm:sample_at_beats(tm:quarters_at_bbt(Temporal.BBT_TIME(bar, 1, 0)))
end

-- Report where Ardour's own tempo map puts the start of bars first..last (for cross-checks).
function T.report_bars(first, last)
  local tm = Temporal.TempoMap.read()
  for bar = first, last do T.report("bar", bar, T.bar_sample(tm, bar)) end
end

-- Ardour renames a new route whose name is taken (or reserved, like "Click"): refuse that.
function T.check_name(route, wanted)
  if route:name() ~= wanted then
    T.fail("Ardour named the new route '" .. route:name() .. "' instead of '" .. wanted ..
           "' (the name is taken or reserved)")
  end
  return route
end

-- Connect a route's outputs to the master inputs (auto-connect races a save in 7.3).
function T.connect_to_master(route)
  local out = route:output()
  local n = out:n_ports():n_audio()
  for i = 0, n - 1 do
    local port = out:audio(i)
    local dst = "Master/audio_in " .. tostring(i % 2 + 1)
    if not port:connected_to(dst) then out:connect(port, dst, nil) end
  end
end

-- Replace the tempo map by the tempo and meter points in TOPLINE_TEMPOS
-- ("ticks<TAB>npm<TAB>end_npm<TAB>note_type" per line, ticks = 1920 per quarter note; end_npm
-- different from npm ramps the tempo up to the next point) and TOPLINE_METERS
-- ("ticks<TAB>divisions<TAB>note_value" per line). Missing variables keep the map.
-- 7.3 computes a ramp only when its next point already exists: constant points go in first,
-- then the ramps one by one, last first, each in its own update.
-- Insert the Topline VST3 first on the route named TOPLINE_ROUTE and arm Capture (parameter 0).
-- Strict I/O: the track stays stereo, Topline's main output feeds it (its optional "Vocal" bus is
-- left unconnected; without this Ardour widens the track to 4 channels and pans them all).
function T.insert_topline()
  local plug = ARDOUR.LuaAPI.new_plugin(Session, "Topline", ARDOUR.PluginType.VST3, "")
  if plug:isnil() then T.fail("Ardour does not know the Topline VST3 (run ardour7-vst3-scanner on it)") end
  local route = Session:route_by_name(T.env("TOPLINE_ROUTE"))
  if route:isnil() then T.fail("no route " .. T.env("TOPLINE_ROUTE")) end
  route:set_strict_io(true)
  if not route:add_processor_by_index(plug, 0, nil, true) then T.fail("could not insert Topline") end
  ARDOUR.LuaAPI.usleep(200000)
  -- parameters in the plugin's order: 0 Capture, 1 Generate, 2 Cancel, 3 Monitor, 4 Vocal level
  ARDOUR.LuaAPI.set_processor_param(plug, 0, 1)
  return plug, route
end

function T.set_tempo_map()
  local tempos, meters = T.records("TOPLINE_TEMPOS"), T.records("TOPLINE_METERS")
  if #tempos == 0 and #meters == 0 then return end
  local ramps = {}
  local tm = Temporal.TempoMap.fetch_writable()
  for _, t in ipairs(tempos) do
    if tonumber(t[2]) == tonumber(t[3]) then
      tm:set_tempo(Temporal.Tempo(tonumber(t[2]), tonumber(t[3]), tonumber(t[4])),
                   Temporal.timepos_t.from_ticks(tonumber(t[1])))
    else
      ramps[#ramps + 1] = t
    end
  end
  for _, m in ipairs(meters) do
    local pos = Temporal.timepos_t.from_ticks(tonumber(m[1]))
    tm:set_meter(Temporal.Meter(tonumber(m[2]), tonumber(m[3])), pos)
  end
  Temporal.TempoMap.update(tm)
  for i = #ramps, 1, -1 do
    local t = ramps[i]
    tm = Temporal.TempoMap.fetch_writable()
    tm:set_tempo(Temporal.Tempo(tonumber(t[2]), tonumber(t[3]), tonumber(t[4])),
                 Temporal.timepos_t.from_ticks(tonumber(t[1])))
    Temporal.TempoMap.update(tm)
  end
  tm = nil
end

-- The last line of every successful run. Ardour 7.3 sometimes crashes in its teardown at exit
-- (after an export above all); the caller trusts a run that reported "done" before that.
function T.done()
  T.report("done")
  os.exit(0)
end

function T.save_and_exit()
  Session:save_state("", false, false, false, false, false)
  T.report("saved")
  T.done()
end

return T
