-- GET one URL (the one given to wrk); only adds the BENCH_JSON report.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
