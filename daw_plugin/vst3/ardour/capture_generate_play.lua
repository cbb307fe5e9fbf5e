-- End-to-end run of the Topline VST3 in headless Ardour (one process, session not saved):
--   1. insert Topline first on TOPLINE_ROUTE, arm Capture
--   2. export [TOPLINE_START, TOPLINE_END) -> TOPLINE_OUT_DIR/pass1 (the transport plays the
--      range: the plugin captures it with Ardour's tempo map and PPQ)
--   3. press Generate; wait (up to TOPLINE_WAIT_S) until TOPLINE_TAKE_FILE exists
--   4. optionally (TOPLINE_RETEMPO=1) replace the tempo map (TOPLINE_TEMPOS / TOPLINE_METERS,
--      see topline_lib.set_tempo_map): the take must follow the music
--   5. export [TOPLINE_START2, TOPLINE_END2] (default: the same range) -> TOPLINE_OUT_DIR/pass2
--      (the take plays through the plugin)
-- env: TOPLINE_LUA_LIB (daw_plugin/ardour/headless/topline_lib.lua), TOPLINE_SESSION_DIR,
--      TOPLINE_SESSION_NAME, TOPLINE_ROUTE, TOPLINE_START, TOPLINE_END, TOPLINE_OUT_DIR,
--      TOPLINE_PRESET, TOPLINE_TAKE_FILE, TOPLINE_WAIT_S. The plugin reads its lyrics, guide
--      melody, takes folder and connection file from $TOPLINE_VST3_DEFAULTS.
local T = dofile(os.getenv("TOPLINE_LUA_LIB"))
T.load()
local plug = T.insert_topline()
ARDOUR.LuaAPI.usleep(200000)

local function export(sub, s, e)
  local ex = Session:simple_export()
  ex:set_folder(T.env("TOPLINE_OUT_DIR") .. "/" .. sub)
  ex:set_range(s, e)
  if not ex:set_preset(T.env("TOPLINE_PRESET")) then T.fail("export preset not found") end
  if not ex:check_outputs() then T.fail("the master bus has no outputs to export") end
  if not ex:run_export() then T.fail("Ardour's export failed (" .. sub .. ")") end
  T.report("exported", sub)
end

local s1, e1 = tonumber(T.env("TOPLINE_START")), tonumber(T.env("TOPLINE_END"))
export("pass1", s1, e1)
ARDOUR.LuaAPI.set_processor_param(plug, 1, 1)
local take, waited, limit = T.env("TOPLINE_TAKE_FILE"), 0, tonumber(T.env("TOPLINE_WAIT_S", "120"))
while waited < limit do
  local f = io.open(take, "rb")
  if f then f:close(); break end
  ARDOUR.LuaAPI.usleep(250000)
  waited = waited + 0.25
end
if waited >= limit then T.fail("no take after " .. limit .. " s: " .. take) end
T.report("take", take, waited)
ARDOUR.LuaAPI.usleep(500000) -- the worker hands the take to the audio thread right after writing it
if os.getenv("TOPLINE_RETEMPO") == "1" then
  T.set_tempo_map()
  ARDOUR.LuaAPI.usleep(300000)
  T.report("retempo")
end
export("pass2", tonumber(T.env("TOPLINE_START2", tostring(s1))), tonumber(T.env("TOPLINE_END2", tostring(e1))))
T.done()
