-- Export the session's master over a sample range, optionally with one bus or track soloed
-- (so the file holds what that bus sends to the master), at the session rate. Does NOT save:
-- the solo and everything else this run touches are dropped when it exits.
-- env: TOPLINE_LUA_LIB, TOPLINE_SESSION_DIR, TOPLINE_SESSION_NAME, TOPLINE_START, TOPLINE_END
--      (session samples), TOPLINE_OUT_DIR, TOPLINE_PRESET (export preset id),
--      TOPLINE_SOLO (route name, optional), TOPLINE_REPORT_BARS ("first<TAB>last", optional).
local T = dofile(os.getenv("TOPLINE_LUA_LIB"))
T.load()
local solo = os.getenv("TOPLINE_SOLO") or ""
if solo ~= "" then
  local r = Session:route_by_name(solo)
  if r:isnil() then T.fail("no bus or track named '" .. solo .. "'") end
  if not r:is_master() then
    r:solo_control():set_value(1, PBD.GroupControlDisposition.NoGroup)
    local waited = 0
    while not r:solo_control():soloed() and waited < 50 do ARDOUR.LuaAPI.usleep(20000); waited = waited + 1 end
    if not r:solo_control():soloed() then T.fail("could not solo '" .. solo .. "'") end
  end
end
local bars = T.records("TOPLINE_REPORT_BARS")
if #bars > 0 then T.report_bars(tonumber(bars[1][1]), tonumber(bars[1][2])) end
local s, e = tonumber(T.env("TOPLINE_START")), tonumber(T.env("TOPLINE_END"))
local ex = Session:simple_export()
ex:set_folder(T.env("TOPLINE_OUT_DIR"))
ex:set_range(s, e)
if not ex:set_preset(T.env("TOPLINE_PRESET")) then T.fail("export preset " .. T.env("TOPLINE_PRESET") .. " not found") end
if not ex:check_outputs() then T.fail("the master bus has no outputs to export") end
if not ex:run_export() then T.fail("Ardour's export failed") end
T.report("exported", s, e)
-- close_session() crashes after an export in 7.3: exit directly, without saving.
T.done()
