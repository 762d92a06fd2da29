-- The limit counters of cm-open-webui-proxy in Redis: exactly the arithmetic of
-- src/limits/evaluate.ts and src/limits/gcra.ts (the memory store's), one atomic step per call.
-- KEYS: one counter per rule. ARGV[1]: the operation, then its arguments (see each branch).
-- `now` is the calling instance's clock (epoch ms): every limit is computed in the callers' time.
-- Only the liveness of concurrency leases uses Redis' own clock (TIME), so instances whose clocks
-- disagree never free each other's slots.
--
-- Counters:
--   rpm, tpm       string: the GCRA theoretical arrival time; expires once it is in the past
--   tokensPerDay   hash {day, spent}; expires an hour after the UTC day it counts
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

local function spentToday(key, now)
  local day = math.floor(now / DAY)
  local stored = redis.call('HMGET', key, 'day', 'spent')
  if tonumber(stored[1]) == day then return day, tonumber(stored[2]) or 0 end
  return day, 0
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
  -- Returns {all allowed, then per rule: allowed, remaining, resetMs, retryAfterMs}.
  local now, me, lease = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
  local spend = op == 'admit'
  local at = nil
  local all = true
  local out = { '1' }
  local rates, slots = {}, {}
  for i, key in ipairs(KEYS) do
    local kind, limit = ARGV[3 + 2 * i], tonumber(ARGV[4 + 2 * i])
    local allowed, remaining, reset, retry
    if kind == 'rpm' or kind == 'tpm' then
      local cost = 0
      if kind == 'rpm' and spend then cost = 1 end
      local tat
      allowed, tat, remaining, reset, retry = gcra(tatOf(key), now, limit, cost)
      if cost > 0 then rates[#rates + 1] = { key, tat } end
    elseif kind == 'concurrent' then
      at = at or clock()
      local count = inFlight(key, at, spend)
      allowed = count < limit
      local after = count
      if allowed and spend then after = count + 1 end
      remaining, reset = math.max(0, limit - after), 0
      retry = CONCURRENT_RETRY
      if allowed then retry = 0 end
      if spend then slots[#slots + 1] = key end
    else -- tokensPerDay
      local _, spent = spentToday(key, now)
      local untilMidnight = DAY - (now % DAY)
      allowed = spent < limit
      remaining, reset = math.max(0, limit - spent), untilMidnight
      retry = untilMidnight
      if allowed then retry = 0 end
    end
    if not allowed then all = false end
    local flag = '0'
    if allowed then flag = '1' end
    out[#out + 1] = flag
    out[#out + 1] = fmt(remaining)
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
  -- ARGV: op, now, tokens, then per rule: kind, limit (token rules only).
  local now, tokens = tonumber(ARGV[2]), tonumber(ARGV[3])
  for i, key in ipairs(KEYS) do
    local kind, limit = ARGV[2 + 2 * i], tonumber(ARGV[3 + 2 * i])
    if kind == 'tpm' then
      -- gcra.ts: charged(tat, now, limit, tokens)
      setTat(key, math.max(tatOf(key), now) + (tokens * WINDOW) / limit, now)
    elseif kind == 'tokensPerDay' then
      local day, spent = spentToday(key, now)
      redis.call('HSET', key, 'day', fmt(day), 'spent', fmt(spent + tokens))
      redis.call('PEXPIRE', key, fmt(DAY - (now % DAY) + DAY_MARGIN))
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
