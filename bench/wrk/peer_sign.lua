-- The naive peer's own signing script (../shared/bench/naive_sign.lua, its path in
-- PEER_SIGN_LUA), unchanged, plus the BENCH_JSON report and status counts our scripts give.
dofile(os.getenv("PEER_SIGN_LUA"))
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

function response(status, headers, body)
  count_status(status)
end
