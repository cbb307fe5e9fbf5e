-- Create a session headless: sample rate, tempo map, busses and empty audio tracks; save, exit.
-- env: TOPLINE_LUA_LIB, TOPLINE_SESSION_DIR, TOPLINE_SESSION_NAME, TOPLINE_RATE,
--      TOPLINE_TEMPOS / TOPLINE_METERS (see topline_lib.set_tempo_map),
--      TOPLINE_BUSSES ("name<TAB>channels" per line, routed to the master),
--      TOPLINE_TRACKS ("name<TAB>channels[<TAB>bus]" per line; routed to the bus, else the master).
local T = dofile(os.getenv("TOPLINE_LUA_LIB"))
T.start_backend()
local dir, name = T.env("TOPLINE_SESSION_DIR"), T.env("TOPLINE_SESSION_NAME")
local rate = tonumber(T.env("TOPLINE_RATE", "48000"))
if not create_session(dir, name, rate) then T.fail("Ardour could not create session " .. dir) end
T.report("created", Session:nominal_sample_rate())
T.set_tempo_map()
local busses = {}
for _, b in ipairs(T.records("TOPLINE_BUSSES")) do
  local n = tonumber(b[2] or "2")
  local rl = Session:new_audio_route(n, n, nil, 1, b[1], ARDOUR.PresentationInfo.Flag.AudioBus,
                                     ARDOUR.PresentationInfo.max_order)
  for r in rl:iter() do busses[#busses + 1] = T.check_name(r, b[1]) end
  if rl:size() ~= 1 then T.fail("could not create bus " .. b[1]) end
end
local tracks = {}
for _, t in ipairs(T.records("TOPLINE_TRACKS")) do
  local n = tonumber(t[2] or "2")
  local tl = Session:new_audio_track(n, 2, nil, 1, t[1], ARDOUR.PresentationInfo.max_order,
                                     ARDOUR.TrackMode.Normal, true, false)
  for r in tl:iter() do tracks[#tracks + 1] = { T.check_name(r, t[1]), t[3] or "" } end
  if tl:size() ~= 1 then T.fail("could not create track " .. t[1]) end
end
ARDOUR.LuaAPI.usleep(300000)
for _, r in ipairs(busses) do T.connect_to_master(r) end
for _, t in ipairs(tracks) do
  local r, bus = t[1], t[2]
  if bus == "" then
    T.connect_to_master(r)
  else
    local out = r:output()
    out:disconnect_all(nil)
    local n = out:n_ports():n_audio()
    for i = 0, n - 1 do
      out:connect(out:audio(i), bus .. "/audio_in " .. tostring(i % 2 + 1), nil)
    end
  end
end
T.save_and_exit()
