-- POST confirmations, each token once: thread k of n takes tokens k, k+n, k+2n, ...
--   wrk -s confirm.lua http://127.0.0.1:PORT -- <tokens-file> <threads>
-- When a thread runs out it starts again (the answer is then "already_confirmed"), and counts
-- status 299 in the report so the driver can tell a run that needed more tokens.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

local tokens = {}
local next_index = 0
local step = 1

function init(args)
  local all = {}
  for line in io.lines(args[1]) do
    if #line > 0 then table.insert(all, line) end
  end
  step = tonumber(args[2])
  for i = tid, #all, step do table.insert(tokens, all[i]) end
  headers = {["Content-Type"] = "application/json"}
end

function request()
  next_index = next_index + 1
  if next_index > #tokens then
    next_index = 1
    count_status(299)
  end
  local body = '{"token":"' .. tokens[next_index] .. '"}'
  return wrk.format("POST", "/v1/signatures/confirm", headers, body)
end

function response(status, headers, body)
  count_status(status)
end
