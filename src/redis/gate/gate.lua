-- The shared VirusTotal quota of one account: one atomic decision per call.
--
-- KEYS (all under the account's hash tag, so they live in one Redis Cluster slot):
--   1 minute log: sorted set of grant times (ms), at most `rate` of them in any 60 s
--   2 day counter   {ns}:day:YYYY-MM-DD
--   3 month counter {ns}:month:YYYY-MM
--   4 block flag: ms until which VirusTotal blocks us (PX expiry is only clean-up)
--   5 flush marker (mode "add"): makes adding offline spends idempotent; refund marker
--     (mode "refund"): makes giving a slot back idempotent
-- ARGV:
--   1 mode: acquire | peek | block | adopt | add | refund
--   2 now override in Unix ms, or "" to use Redis TIME. Only tests pass an override: it
--     lets them cross minute, day and month boundaries without waiting. Production always
--     uses TIME, so the clocks of the replicas never matter.
--   3 day "YYYY-MM-DD" and 4 month "YYYY-MM" named by KEYS 2 and 3
--   5 rate per minute, 6 per day, 7 per month
--   8 arrival margin in ms: how long past 60 s a grant keeps its slot. VirusTotal counts a
--     call when it arrives, this script when it grants it; jitter on the way can bring a
--     later grant closer to an earlier one on arrival, and the margin absorbs it (the local
--     gate keeps the same margin, so offline and fleet decide alike)
--   9.. per mode: acquire: member, reserve (the last calls of the day this ask may not
--       spend: bulk callers and background fills keep off what is kept for interactive ones) | block: "midnight" or "for" ms or "until" ms
--       adopt: day_used, month_used | add: count, then the grant times (ms) to log
--       refund: the minute-log member to remove, or "" (a spend added by "add")
-- Reply (always 9 integers/strings so the client parses one shape):
--   status (1 granted, 0 denied, 2 done, -1 the keys name another date than now),
--   reason (minute|blocked|day|month|reserve or ""), retry_ms, now_ms, minute_used,
--   minute_frees_ms (when the oldest logged grant ages out), day_used, month_used,
--   blocked_until_ms (0 = not blocked)
--
-- Why keys carry the date instead of being computed here: every key a script touches must
-- be declared, or Redis Cluster and managed Redis services reject it. So the client names
-- the keys for the date it believes it is, and the script checks that date against its own
-- clock, answering -1 with its time when they differ (around midnight on a skewed replica).

local MINUTE = 60000
local DAY = 86400000
-- Counters outlive their window by an hour so a reply racing midnight still finds them.
local MARGIN = 3600000

-- Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m > 2) and (m - 3) or (m + 9)
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = (mp < 10) and (mp + 3) or (mp - 9)
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end

-- Start (ms) of the day after the given date, and of the month after it.
local function resets(y, m, d)
  local day_reset = (days_from_civil(y, m, d) + 1) * DAY
  local ny, nm = y, m + 1
  if nm == 13 then ny, nm = y + 1, 1 end
  return day_reset, days_from_civil(ny, nm, 1) * DAY
end

local mode = ARGV[1]
local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local rate = tonumber(ARGV[5])
local per_day = tonumber(ARGV[6])
local per_month = tonumber(ARGV[7])
-- How long a grant occupies its slot in the minute log.
local WINDOW = MINUTE + tonumber(ARGV[8])

if mode == 'add' then
  -- Spends made while Redis was unreachable, on the date the keys name (maybe not today).
  local y = tonumber(string.sub(ARGV[3], 1, 4))
  local m = tonumber(string.sub(ARGV[3], 6, 7))
  local d = tonumber(string.sub(ARGV[3], 9, 10))
  local day_reset, month_reset = resets(y, m, d)
  local applied = 0
  if redis.call('SET', KEYS[5], '1', 'NX', 'PX', DAY) then
    applied = 1
    local count = tonumber(ARGV[9])
    if day_reset + MARGIN > now then
      redis.call('INCRBY', KEYS[2], count)
      redis.call('PEXPIRE', KEYS[2], day_reset - now + MARGIN)
    end
    if month_reset + MARGIN > now then
      redis.call('INCRBY', KEYS[3], count)
      redis.call('PEXPIRE', KEYS[3], month_reset - now + MARGIN)
    end
    for i = 10, #ARGV do
      local at = tonumber(ARGV[i])
      if at > now - WINDOW then
        redis.call('ZADD', KEYS[1], at, KEYS[5] .. ':' .. i)
        redis.call('PEXPIRE', KEYS[1], 2 * WINDOW)
      end
    end
  end
  return {2, '', applied, now, 0, 0, 0, 0, 0}
end

if mode == 'refund' then
  -- A granted call that never reached VirusTotal (its connection never opened): VirusTotal
  -- did not count it, so it leaves the minute log and the counters of the date the keys
  -- name (maybe yesterday, for a call granted just before midnight). Once per marker, so a
  -- retried refund whose answer was lost never gives back twice.
  local applied = 0
  if redis.call('SET', KEYS[5], '1', 'NX', 'PX', DAY) then
    applied = 1
    if ARGV[9] ~= '' then
      redis.call('ZREM', KEYS[1], ARGV[9])
    end
    for _, key in ipairs({KEYS[2], KEYS[3]}) do
      -- DECR keeps the key's expiry; a counter that already expired has nothing to give.
      if tonumber(redis.call('GET', key) or '0') > 0 then
        redis.call('DECR', key)
      end
    end
  end
  return {2, '', applied, now, 0, 0, 0, 0, 0}
end

local y, m, d = civil_from_days(math.floor(now / DAY))
local day = string.format('%04d-%02d-%02d', y, m, d)
local month = string.format('%04d-%02d', y, m)
if ARGV[3] ~= day or ARGV[4] ~= month then
  return {-1, '', 0, now, 0, 0, 0, 0, 0}
end
local day_reset, month_reset = resets(y, m, d)

if mode == 'block' then
  local kind = ARGV[9]
  local until_ms
  if kind == 'midnight' then
    -- VirusTotal does not say which window ran out; the day is the shortest calendar window.
    until_ms = day_reset
  elseif kind == 'for' then
    until_ms = now + tonumber(ARGV[10])
  else
    until_ms = tonumber(ARGV[10])
  end
  local known = tonumber(redis.call('GET', KEYS[4]) or '0')
  -- A block is never shortened: a TooManyRequests back-off must not end a day-long block.
  if until_ms > now and until_ms > known then
    redis.call('SET', KEYS[4], until_ms, 'PX', until_ms - now)
  end
elseif mode == 'adopt' then
  local pairs_ = {{KEYS[2], tonumber(ARGV[9]), day_reset}, {KEYS[3], tonumber(ARGV[10]), month_reset}}
  for _, p in ipairs(pairs_) do
    local used = tonumber(redis.call('GET', p[1]) or '0')
    if p[2] > used then
      redis.call('SET', p[1], p[2], 'PX', p[3] - now + MARGIN)
    end
  end
end

-- The minute log: a grant at t occupies a slot during (t, t + 60 s + margin], exactly like the
-- local gate.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - WINDOW)
local minute_used = redis.call('ZCARD', KEYS[1])
local minute_frees = now
if minute_used > 0 then
  minute_frees = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]) + WINDOW
end
local minute_at = now
if rate <= 0 then
  -- A zero rate never frees a slot; ask again in a day rather than never.
  minute_at = now + DAY
elseif minute_used >= rate then
  -- The slot frees when the rate-th newest grant ages out (more than `rate` are logged only
  -- after the rate was lowered).
  local idx = minute_used - rate
  minute_at = tonumber(redis.call('ZRANGE', KEYS[1], idx, idx, 'WITHSCORES')[2]) + WINDOW
end
local day_used = tonumber(redis.call('GET', KEYS[2]) or '0')
local month_used = tonumber(redis.call('GET', KEYS[3]) or '0')
local blocked = tonumber(redis.call('GET', KEYS[4]) or '0')
if blocked <= now then blocked = 0 end

if mode ~= 'acquire' then
  return {2, '', 0, now, minute_used, minute_frees, day_used, month_used, blocked}
end

-- The earliest moment a slot may be granted; on a tie the later listed, longer-lived cause
-- is the more useful one to report (the same order as the local gate).
local at, reason = minute_at, 'minute'
if blocked > 0 and blocked >= at then at, reason = blocked, 'blocked' end
if day_used >= per_day and day_reset >= at then at, reason = day_reset, 'day' end
if month_used >= per_month and month_reset >= at then at, reason = month_reset, 'month' end
-- The reserve: only when nothing else already waits as long (a spent day says `day`).
local reserve = tonumber(ARGV[10] or '0')
if reserve > 0 and day_used < per_day and day_used + reserve >= per_day and day_reset > at then
  at, reason = day_reset, 'reserve'
end
if at > now then
  return {0, reason, at - now, now, minute_used, minute_frees, day_used, month_used, blocked}
end

redis.call('ZADD', KEYS[1], now, ARGV[9])
redis.call('PEXPIRE', KEYS[1], 2 * WINDOW)
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], day_reset - now + MARGIN)
redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], month_reset - now + MARGIN)
if minute_used == 0 then minute_frees = now + WINDOW end
return {1, '', 0, now, minute_used + 1, minute_frees, day_used + 1, month_used + 1, blocked}
