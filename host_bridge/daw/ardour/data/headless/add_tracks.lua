-- Add empty audio tracks to a session (routed to the master), save and exit. Topline then writes
-- the take's region into the new track's playlist while Ardour is closed (7.3's Lua cannot import).
-- env: TOPLINE_LUA_LIB, TOPLINE_SESSION_DIR, TOPLINE_SESSION_NAME,
--      TOPLINE_TRACKS ("name<TAB>channels" per line).
local T = dofile(os.getenv("TOPLINE_LUA_LIB"))
T.load()
local made = {}
for _, t in ipairs(T.records("TOPLINE_TRACKS")) do
  if not Session:route_by_name(t[1]):isnil() then T.fail("a route named '" .. t[1] .. "' already exists") end
  local tl = Session:new_audio_track(tonumber(t[2] or "1"), 2, nil, 1, t[1], ARDOUR.PresentationInfo.max_order,
                                     ARDOUR.TrackMode.Normal, true, false)
  if tl:size() ~= 1 then T.fail("could not create track " .. t[1]) end
  for r in tl:iter() do made[#made + 1] = T.check_name(r, t[1]) end
end
ARDOUR.LuaAPI.usleep(300000)
for _, r in ipairs(made) do
  T.connect_to_master(r)
  T.report("track", r:name(), r:to_stateful():id():to_s(), r:to_track():playlist():to_stateful():id():to_s())
end
T.save_and_exit()
