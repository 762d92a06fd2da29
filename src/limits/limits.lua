-- The limit counters of cm-open-webui-proxy in Redis: exactly the arithmetic of
-- src/limits/evaluate.ts and src/limits/gcra.ts (the memory store's), one atomic step per call.
-- KEYS: one counter per rule. ARGV[1]: the operation, then its arguments (see each branch).
-- `now` is the calling instance's clock (epoch ms): every limit is computed in the callers' time.
-- Only the liveness of concurrency leases uses Redis' own clock (TIME), so instances whose clocks
-- disagree never free each other's slots.
--
-- Counters:
--   rpm, tpm       string: the GCRA theoretical arrival time; expires once it is in the past
--   tokensPerDay,  hash {window, spent}: what was spent (tokens, or nano-dollars for a budget) in the
--   usdPerDay,     calendar window `window` (days since the epoch, or months since January 1970, in
--   usdPerMonth    UTC; calendar.ts); expires an hour after that window ends
--   concurrent     hash {<instance> = slots held, <instance>@ = lease end (Redis ms)}: the slots of
--                  an instance whose lease ran out (it crashed, or lost Redis) no longer count

if redis.replicate_commands then pcall(redis.replicate_commands) end -- Redis < 5: TIME before writes

local WINDOW = 60000
local DAY = 86400000
local CONCURRENT_RETRY = 1000
local DAY_MARGIN = 3600000
local RATE_MARGIN = 1000

-- Every number crosses as a string with all 17 digits: a double read back is the same double.
local function fmt(x)
  return string.format('%.17g', x)
end

local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- gcra.ts: gcra(tat, now, limit, cost)
local function gcra(tat, now, limit, cost)
  local interval = WINDOW / limit
  local base = math.max(tat, now)
  local nxt = base + cost * interval
  local allowed
  if cost > 0 then
    allowed = nxt - now <= WINDOW + 1e-9
  else
    allowed = base - now <= WINDOW - interval + 1e-9
  end
  local after = base
  if allowed then after = nxt end
  local remaining = math.max(0, math.floor((WINDOW - (after - now)) / interval + 1e-9))
  local retry = 0
  if not allowed then
    local at = base + interval
    if cost > 0 then at = nxt end
    retry = math.max(0, at - now - WINDOW)
  end
  return allowed, after, remaining, math.max(0, after - now), retry
end

local function tatOf(key)
  return tonumber(redis.call('GET', key) or '0') or 0
end

local function setTat(key, tat, now)
  redis.call('SET', key, fmt(tat), 'PX', fmt(math.max(1, math.ceil(tat - now)) + RATE_MARGIN))
end

-- calendar.ts: days since 1970-01-01 of a proleptic Gregorian date (month 1..12), and back.
-- Redis' Lua has no os.date; these are Howard Hinnant's days_from_civil and civil_from_days.
local function daysFromCivil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m + 9
  if m > 2 then mp = m - 3 end
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function civilFromDays(days)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = mp + 3
  if mp >= 10 then m = mp - 9 end
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m
end

-- calendar.ts: windowOf and windowEnd, by the kind's period (a day, or a month from the 1st).
local function windowOf(kind, now)
  local day = math.floor(now / DAY)
  if kind ~= 'usdPerMonth' then return day, (day + 1) * DAY end
  local y, m = civilFromDays(day)
  local ny, nm = y, m + 1
  if nm > 12 then ny, nm = y + 1, 1 end
  return (y - 1970) * 12 + (m - 1), daysFromCivil(ny, nm, 1) * DAY
end

-- What was spent in the window of `now`, with that window, when it ends, and the window the counter
-- holds (nil for none).
local function spentInWindow(key, kind, now)
  local window, ends = windowOf(kind, now)
  local stored = redis.call('HMGET', key, 'window', 'spent')
  local held = tonumber(stored[1])
  if held == window then return window, ends, tonumber(stored[2]) or 0, held end
  return window, ends, 0, held
end

-- Slots in flight on every instance whose lease holds; with `prune`, the others are deleted.
local function inFlight(key, at, prune)
  local fields = redis.call('HGETALL', key)
  local hash = {}
  for i = 1, #fields, 2 do hash[fields[i]] = fields[i + 1] end
  local total = 0
  for field, value in pairs(hash) do
    if string.sub(field, -1) ~= '@' then
      if (tonumber(hash[field .. '@']) or 0) >= at then
        total = total + (tonumber(value) or 0)
      elseif prune then
        redis.call('HDEL', key, field, field .. '@')
      end
    end
  end
  return total
end

local op = ARGV[1]

if op == 'admit' or op == 'peek' then
  -- ARGV: op, now, instance, leaseMs, then per rule: kind, limit.
  -- Returns {all allowed, then per rule: allowed, remaining, used, resetMs, retryAfterMs}.
  local now, me, lease = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
  local spend = op == 'admit'
  local at = nil
  local all = true
  local out = { '1' }
  local rates, slots = {}, {}
  for i, key in ipairs(KEYS) do
    local kind, limit = ARGV[3 + 2 * i], tonumber(ARGV[4 + 2 * i])
    local allowed, remaining, used, reset, retry
    if kind == 'rpm' or kind == 'tpm' then
      local cost = 0
      if kind == 'rpm' and spend then cost = 1 end
      local tat
      allowed, tat, remaining, reset, retry = gcra(tatOf(key), now, limit, cost)
      used = limit - remaining
      if cost > 0 then rates[#rates + 1] = { key, tat } end
    elseif kind == 'concurrent' then
      at = at or clock()
      local count = inFlight(key, at, spend)
      allowed = count < limit
      local after = count
      if allowed and spend then after = count + 1 end
      remaining, used, reset = math.max(0, limit - after), after, 0
      retry = CONCURRENT_RETRY
      if allowed then retry = 0 end
      if spend then slots[#slots + 1] = key end
    else -- tokensPerDay, usdPerDay, usdPerMonth: spent < limit, one rule for all (a limit of 0 admits nothing)
      local _, ends, spent = spentInWindow(key, kind, now)
      local untilEnd = ends - now
      allowed = spent < limit
      remaining, used, reset = math.max(0, limit - spent), spent, untilEnd
      retry = untilEnd
      if allowed then retry = 0 end
    end
    if not allowed then all = false end
    local flag = '0'
    if allowed then flag = '1' end
    out[#out + 1] = flag
    out[#out + 1] = fmt(remaining)
    out[#out + 1] = fmt(used)
    out[#out + 1] = fmt(reset)
    out[#out + 1] = fmt(retry)
  end
  if not all then
    out[1] = '0'
  elseif spend then
    for _, rate in ipairs(rates) do setTat(rate[1], rate[2], now) end
    for _, key in ipairs(slots) do
      redis.call('HINCRBY', key, me, 1)
      redis.call('HSET', key, me .. '@', fmt(at + lease))
      redis.call('PEXPIRE', key, fmt(lease * 2))
    end
  end
  return out
end

if op == 'charge' then
  -- ARGV: op, now, then per rule: kind, limit, amount (tokens; nano-dollars for a budget). KEYS: the
  -- rules spent on usage with an amount above 0 (rules.ts: amountFor).
  local now = tonumber(ARGV[2])
  for i, key in ipairs(KEYS) do
    local kind, limit, amount = ARGV[3 * i], tonumber(ARGV[1 + 3 * i]), tonumber(ARGV[2 + 3 * i])
    if kind == 'tpm' then
      -- gcra.ts: charged(tat, now, limit, tokens)
      setTat(key, math.max(tatOf(key), now) + (amount * WINDOW) / limit, now)
    elseif kind == 'tokensPerDay' or kind == 'usdPerDay' or kind == 'usdPerMonth' then
      -- evaluate.ts spentInWindow: a charge dated in a window the counter has left is dropped.
      local window, ends, spent, held = spentInWindow(key, kind, now)
      if held == nil or held <= window then
        redis.call('HSET', key, 'window', fmt(window), 'spent', fmt(spent + amount))
        redis.call('PEXPIRE', key, fmt(ends - now + DAY_MARGIN))
      end
    end
  end
  return 1
end

if op == 'release' then
  -- ARGV: op, instance. KEYS: concurrent rules only. Never below zero.
  local me = ARGV[2]
  for _, key in ipairs(KEYS) do
    local count = tonumber(redis.call('HGET', key, me) or '0') or 0
    if count <= 1 then
      redis.call('HDEL', key, me, me .. '@')
    else
      redis.call('HINCRBY', key, me, -1)
    end
  end
  return 1
end

if op == 'renew' then
  -- ARGV: op, instance, leaseMs, then per key: the slots this instance holds there, or '-' to
  -- extend the lease only (a request there is being admitted: its count is not known yet).
  local me, lease = ARGV[2], tonumber(ARGV[3])
  local at = clock()
  for i, key in ipairs(KEYS) do
    local held = ARGV[3 + i]
    if held == '-' then
      if redis.call('HEXISTS', key, me) == 1 then redis.call('HSET', key, me .. '@', fmt(at + lease)) end
    elseif (tonumber(held) or 0) > 0 then
      redis.call('HSET', key, me, held, me .. '@', fmt(at + lease))
    else
      redis.call('HDEL', key, me, me .. '@')
    end
    redis.call('PEXPIRE', key, fmt(lease * 2))
  end
  return 1
end

return redis.error_reply('unknown operation ' .. tostring(op))
