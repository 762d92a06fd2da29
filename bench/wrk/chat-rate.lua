-- chat.lua at a fixed light rate: each connection waits BENCH_DELAY_MS before every request;
-- with BENCH_CONNECTIONS connections the starts are staggered evenly, so requests never overlap
-- at light load and the rate is about connections * 1000 / (delay + latency) req/s.
dofile("bench/wrk/chat.lua")
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "10")
local connections = tonumber(os.getenv("BENCH_CONNECTIONS") or "2")
local calls = 0
delay = function()
  calls = calls + 1
  if calls <= connections then return math.floor((calls - 1) * delay_ms / connections) end
  return delay_ms
end
