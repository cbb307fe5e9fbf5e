-- Insert Topline first on TOPLINE_ROUTE (Strict I/O, Capture armed) and save the session, so that
-- Ardour's GUI opens it with the plugin in place (tests/test_vst3_ardour_gui.py).
-- env: TOPLINE_LUA_LIB, TOPLINE_SESSION_DIR, TOPLINE_SESSION_NAME, TOPLINE_ROUTE; the plugin reads
-- its settings from $TOPLINE_VST3_DEFAULTS.
local T = dofile(os.getenv("TOPLINE_LUA_LIB"))
T.load()
local plug = ARDOUR.LuaAPI.new_plugin(Session, "Topline", ARDOUR.PluginType.VST3, "")
if plug:isnil() then T.fail("Ardour does not know the Topline VST3 (run ardour7-vst3-scanner on it)") end
local route = Session:route_by_name(T.env("TOPLINE_ROUTE"))
if route:isnil() then T.fail("no route " .. T.env("TOPLINE_ROUTE")) end
route:set_strict_io(true)
if not route:add_processor_by_index(plug, 0, nil, true) then T.fail("could not insert Topline") end
ARDOUR.LuaAPI.usleep(200000)
ARDOUR.LuaAPI.set_processor_param(plug, 0, 1)
T.connect_to_master(route)
T.save_and_exit()
