-- Insert Topline first on TOPLINE_ROUTE (Strict I/O, Capture armed) and save the session, so that
-- Ardour's GUI opens it with the plugin in place (tests/test_vst3_ardour_gui.py).
-- env: TOPLINE_LUA_LIB, TOPLINE_SESSION_DIR, TOPLINE_SESSION_NAME, TOPLINE_ROUTE; the plugin reads
-- its settings from $TOPLINE_VST3_DEFAULTS.
local T = dofile(os.getenv("TOPLINE_LUA_LIB"))
T.load()
local _, route = T.insert_topline()
T.connect_to_master(route)
T.save_and_exit()
