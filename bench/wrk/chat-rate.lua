-- chat.lua at a fixed light rate: BENCH_RATE requests per second in all (default 200), whatever the
-- target's latency. Request k goes out at start + k * 1000 / BENCH_RATE ms on whichever connection is
-- free (wrk calls delay() before every request, first ones included), so with 2 connections at
-- 200 req/s each connection sends every 10 ms, the two 5 ms apart: requests never overlap while an
-- answer takes less than 5 ms, and the figure is per-request service latency. A request whose slot
-- has passed (its connection was still busy) goes out at once, so a slow target is not given a
-- lower rate. The clock is CLOCK_MONOTONIC through LuaJIT's ffi (wrk's Lua has no ms clock).
dofile("bench/wrk/chat.lua")
local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local interval_ms = 1000 / tonumber(os.getenv("BENCH_RATE") or "200")
local start = nil
local slot = 0
delay = function()
  local now = now_ms()
  if start == nil then start = now end
  local at = start + slot * interval_ms
  slot = slot + 1
  if at <= now then return 0 end
  return math.floor(at - now + 0.5) -- wrk's timers have 1 ms resolution; the schedule itself never drifts
end
