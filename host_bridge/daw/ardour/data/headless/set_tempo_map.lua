-- Change the tempo map (tempo and meter points), save and exit.
-- env: TOPLINE_LUA_LIB, TOPLINE_SESSION_DIR, TOPLINE_SESSION_NAME, TOPLINE_TEMPOS, TOPLINE_METERS.
local T = dofile(os.getenv("TOPLINE_LUA_LIB"))
T.load()
T.set_tempo_map()
T.save_and_exit()
