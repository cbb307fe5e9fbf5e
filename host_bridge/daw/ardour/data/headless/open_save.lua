-- Load the session, report where Ardour's tempo map puts bars first..last (TOPLINE_REPORT_BARS,
-- "first<TAB>last"; optional), save it (Ardour's own formatting), exit.
-- env: TOPLINE_LUA_LIB, TOPLINE_SESSION_DIR, TOPLINE_SESSION_NAME, TOPLINE_REPORT_BARS.
local T = dofile(os.getenv("TOPLINE_LUA_LIB"))
T.load()
local r = T.records("TOPLINE_REPORT_BARS")
if #r > 0 then T.report_bars(tonumber(r[1][1]), tonumber(r[1][2])) end
T.save_and_exit()
