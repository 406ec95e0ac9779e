-- POST distinct, valid signatures: each request a new email and a real US ZIP.
--   wrk -s sign.lua http://127.0.0.1:PORT -- <slug> <run-label>
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

local ZIPS = {"32801", "33101", "32301", "33602", "32202", "10001", "94103", "60601", "78701", "98101"}
local counter = 0

function init(args)
  label = args[2] or "run"
  path = "/v1/petitions/" .. args[1] .. "/signatures"
  headers = {["Content-Type"] = "application/json"}
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"first_name":"Bench","last_name":"Signer","email":"%s.%d.%d@example.org",' ..
    '"postal_code":"%s","country":"US","comment":"Benchmark signature.",' ..
    '"display_publicly":true,"locale":"en"}',
    label, tid, counter, ZIPS[(counter % #ZIPS) + 1])
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  count_status(status)
end
