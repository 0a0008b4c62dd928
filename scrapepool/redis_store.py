"""A crawl's state in Redis: its keys, the Lua scripts that are their only writers, the connection.

Shared by the coordinator (core/redis_frontier.py) and the writer (output/redis_commit.py).

Each script runs atomically in Redis, so a change to the seen set, a host's queue, the
counters, a lease and its fencing is made whole or not at all, with no WATCH/retry loop
(scrapy-cluster's WATCH/MULTI throttle drifts: its issues #47, #89). Every script starts
with :data:`PRELUDE` (Lua scripts cannot share functions across EVALSHA calls).

Keys, all under ``P = "sp:{<crawl id>}:"`` (one hash tag, so one Redis Cluster slot):

============== ======= =================================================================
``P meta``      HASH    identity (JSON), state (seeding/running/finished), settings the
                        scripts need (max_pages, robots, delay, limit), format version;
                        ``heard``/``quiet``: last heartbeat from anyone, no reap before
``P n``         HASH    counters: pending, inflight, admitted, done, next_id, epoch
``P s:<b>``     SET     seen fingerprints, bucket ``b`` (small SETs of integers stay
                        intsets: ~9 bytes per URL, DISTRIBUTED.md section 7)
``P ready``     ZSET    host -> earliest lease time (ms): hosts with work and a free slot
``P h:<host>``  HASH    inflight, limit, delay (ms), next (ms), robots (absent: not asked,
                        ``1``: being fetched, ``2``: known)
``P q:<host>``  ZSET    the host's pending elements ``"<id> <key> <json>"`` (key: the
                        fingerprint, or ``i<id>`` for a request not filtered), scored by
                        priority band then id (redirect hops and reaped requests go ahead)
``P pd``        HASH    key -> depth of each open request (lowered by a shorter path)
``P lvl``       HASH    depth -> open requests of that depth (the depth barrier)
``P fl``        HASH    id -> ``"<session>|<flags>"`` for leased requests; flags: 1 outcome,
                        2 records committed; a request with both is done and deleted
``P m:<sess>``  HASH    id -> ``"<host> <element>"`` (``"<host> R"`` for robots.txt): what a
                        session holds, so that a reap can put it back
``P att``       HASH    id -> times its machine died with it the only open request (the
                        poison count)
``P sus``       SET     ids open on a machine that died with several open: each is
                        leased alone until done (so the death is blamed on one)
``P lone``      HASH    session -> the suspect it holds alone (it leases nothing else
                        before that one's outcome)
``P sess``      HASH    machine -> current epoch (session = ``machine#epoch``)
``P hb``        ZSET    session -> last heartbeat (ms)
``P robots``    HASH    host -> robots.txt text (empty: allow all)
``P ck:<jar>``   HASH    a cookie jar: ``domain|path|name`` -> the cookie (JSON); ``P ckj``
                        names the jars, ``ckver`` in ``P n`` counts their changes
``P out``       HASH    machine -> ``"<offset>|<records>|<path>|<seq>"``: its durable
                        output end, and the number of its last accepted commit
``P lr``        HASH    session -> its last LEASE (sequence number and jobs)
``P jn``        HASH    machine -> ``"<nonce>|<epoch>"`` of its last JOIN
============== ======= =================================================================

Times come from ``redis.call('TIME')`` inside the scripts, so the machines never compare
their clocks; a duration measured on a machine (how long ago a request started) is sent
as a duration.
"""

from .exceptions import UsageError

__all__ = ["SCRIPTS", "PRELUDE", "AHEAD", "BAND", "connect", "crawl_prefix", "fsync_warning"]

#: A request's score in its host's queue: ``-priority * BAND + id``; hops and reaped
#: requests ``AHEAD + id``. Exact in a double while |priority| <= 2000 and id < 2**40.
BAND = 2 ** 40
AHEAD = -(2 ** 52)

PRELUDE = r"""
local P = KEYS[1]
local N = P .. 'n'
local t = redis.call('TIME')
local NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local AHEAD = -4503599627370496

local function num(v) return tonumber(v) or 0 end

local function lost()
  return redis.call('EXISTS', P .. 'meta') == 0
end

-- A host goes into `ready` (scored by when it may be asked) only if it has work, its
-- robots.txt is not being fetched, and it has a free slot.
local function wake(h)
  local hk = P .. 'h:' .. h
  if redis.call('ZCARD', P .. 'q:' .. h) == 0 then
    redis.call('ZREM', P .. 'ready', h)
    return
  end
  local v = redis.call('HMGET', hk, 'robots', 'inflight', 'limit', 'next')
  if v[1] == '1' then
    redis.call('ZREM', P .. 'ready', h)
    return
  end
  if v[1] == '2' then
    local limit = num(v[3])
    if limit > 0 and num(v[2]) >= limit then
      redis.call('ZREM', P .. 'ready', h)
      return
    end
    redis.call('ZADD', P .. 'ready', math.max(NOW, num(v[4])), h)
  else
    redis.call('ZADD', P .. 'ready', NOW, h)  -- its robots.txt first
  end
end

local function ensure_host(h)
  local hk = P .. 'h:' .. h
  if redis.call('EXISTS', hk) == 0 then
    local m = redis.call('HMGET', P .. 'meta', 'robots', 'delay', 'limit')
    local delay = num(m[2])
    local limit = num(m[3])
    if delay > 0 then limit = 1 end
    redis.call('HSET', hk, 'inflight', 0, 'next', 0, 'delay', delay, 'limit', limit)
    if m[1] ~= '1' then redis.call('HSET', hk, 'robots', '2') end
  end
end

-- Depths: `pd` holds each open request's depth (by fingerprint, or 'i<id>' for one that
-- is not filtered), `lvl` how many open requests each depth has. A depth goes down when a
-- shorter path turns up while the request is still pending (the local DepthKeeper's rule).
local function level(d, by)
  if redis.call('HINCRBY', P .. 'lvl', d, by) <= 0 then redis.call('HDEL', P .. 'lvl', d) end
end

local function close(key)
  local d = redis.call('HGET', P .. 'pd', key)
  if d then
    redis.call('HDEL', P .. 'pd', key)
    level(d, -1)
  end
end

-- Admit one request: seen decides; then the page limit (exact: `admitted`).
-- c = {fp or '', bucket, host, score band (-priority), element json, depth}
local function admit(c)
  local fp, b, h, depth = c[1], c[2], c[3], tonumber(c[6])
  if fp ~= '' and redis.call('SISMEMBER', P .. 's:' .. b, fp) == 1 then
    local old = tonumber(redis.call('HGET', P .. 'pd', fp))
    if old and depth < old then
      redis.call('HSET', P .. 'pd', fp, depth)
      level(old, -1)
      level(depth, 1)
    end
    return 0
  end
  local maxp = tonumber(redis.call('HGET', P .. 'meta', 'max_pages'))
  if maxp and num(redis.call('HGET', N, 'admitted')) >= maxp then return 0 end
  if fp ~= '' then redis.call('SADD', P .. 's:' .. b, fp) end
  local id = redis.call('HINCRBY', N, 'next_id', 1)
  local key = fp
  if fp == '' then key = 'i' .. id end
  redis.call('HINCRBY', N, 'admitted', 1)
  redis.call('HINCRBY', N, 'pending', 1)
  redis.call('HSET', P .. 'pd', key, depth)
  level(depth, 1)
  ensure_host(h)
  redis.call('ZADD', P .. 'q:' .. h, tonumber(c[4]) * 1099511627776 + id, id .. ' ' .. key .. ' ' .. c[5])
  wake(h)
  return id
end

local function key_of(element)
  return string.match(element, '^%S+ (%S+) ')
end

local function owner(id, session)
  local v = redis.call('HGET', P .. 'fl', id)
  if not v then return nil end
  local s, flags = string.match(v, '^(.*)|(%d+)$')
  if s ~= session then return nil end
  return tonumber(flags)
end

-- Free a host slot; with a delay, the next request may start `delay` after this one did.
local function release(h, started_ago)
  local hk = P .. 'h:' .. h
  if redis.call('HINCRBY', hk, 'inflight', -1) < 0 then redis.call('HSET', hk, 'inflight', 0) end
  local delay = num(redis.call('HGET', hk, 'delay'))
  if delay > 0 then
    local start = NOW
    if started_ago and started_ago >= 0 then start = NOW - started_ago end
    local nxt = start + delay
    if nxt > num(redis.call('HGET', hk, 'next')) then redis.call('HSET', hk, 'next', nxt) end
  end
  wake(h)
end

local function done(id, session)
  redis.call('HDEL', P .. 'fl', id)
  redis.call('HDEL', P .. 'm:' .. session, id)
  redis.call('HDEL', P .. 'att', id)
  redis.call('SREM', P .. 'sus', id)
  redis.call('HINCRBY', N, 'inflight', -1)
  redis.call('HINCRBY', N, 'done', 1)
end

-- Open: the page requests a session holds whose outcome has not come (their records may
-- still be uncommitted after it: those are not open).
local function open_ids(items)
  local ids = {}
  for i = 1, #items, 2 do
    if not string.match(items[i + 1], '^%S+ R$') then
      local flv = redis.call('HGET', P .. 'fl', items[i])
      if not flv or tonumber(string.match(flv, '|(%d+)$')) % 2 == 0 then ids[#ids + 1] = items[i] end
    end
  end
  return ids
end

-- A machine spoke (a JOIN or a HEARTBEAT). If nobody had for half a session timeout (at least
-- 1.5 s: a lone machine heartbeats every 1 s), Redis itself, or the way to it, was silent, not
-- the machines: their heartbeats are all old, so none is reaped before a whole timeout more.
-- JOIN counts, so that a Redis frozen before the first heartbeat is noticed too.
local function hear(timeout)
  local heard = tonumber(redis.call('HGET', P .. 'meta', 'heard') or '0')
  redis.call('HSET', P .. 'meta', 'heard', NOW)
  if heard > 0 and NOW - heard > math.max(timeout / 2, 1500) then
    redis.call('HSET', P .. 'meta', 'quiet', NOW + timeout)
  end
end

-- Put everything a session holds back in its hosts' queues, ahead of newer requests.
-- ``count`` (its machine died): a request open alone is to blame (``att``, the poison
-- count); requests open together are suspects (``sus``), each leased alone from now on,
-- so that innocent pages beside a page that kills machines are never given up.
local function reap(session, count)
  local mk = P .. 'm:' .. session
  local items = redis.call('HGETALL', mk)
  local n = 0
  if count then
    local open = open_ids(items)
    if #open == 1 then
      redis.call('HINCRBY', P .. 'att', open[1], 1)
    else
      for _, id in ipairs(open) do redis.call('SADD', P .. 'sus', id) end
    end
  end
  redis.call('HDEL', P .. 'lone', session)
  for i = 1, #items, 2 do
    local id, v = items[i], items[i + 1]
    local h, rest = string.match(v, '^(%S+) (.*)$')
    local hk = P .. 'h:' .. h
    local flv = redis.call('HGET', P .. 'fl', id)
    local flags = 0
    if flv then flags = tonumber(string.match(flv, '|(%d+)$')) end
    if rest == 'R' then
      if redis.call('HGET', hk, 'robots') == '1' then redis.call('HDEL', hk, 'robots') end
      redis.call('HDEL', P .. 'fl', id)
      wake(h)
    else
      if flags % 2 == 0 then
        if redis.call('HINCRBY', hk, 'inflight', -1) < 0 then redis.call('HSET', hk, 'inflight', 0) end
      end
      -- Records already committed stay so: a new lease of it may only add the outcome.
      if flags >= 2 then redis.call('HSET', P .. 'fl', id, '-|2') else redis.call('HDEL', P .. 'fl', id) end
      redis.call('ZADD', P .. 'q:' .. h, AHEAD + tonumber(id), rest)
      redis.call('HINCRBY', N, 'pending', 1)
      wake(h)
    end
    redis.call('HINCRBY', N, 'inflight', -1)
    n = n + 1
  end
  redis.call('DEL', mk)
  redis.call('HDEL', P .. 'lr', session)
  redis.call('ZREM', P .. 'hb', session)
  local machine, ep = string.match(session, '^(.*)#(%d+)$')
  if redis.call('HGET', P .. 'sess', machine) == ep then redis.call('HDEL', P .. 'sess', machine) end
  return n
end

local function finish_check()
  local v = redis.call('HMGET', N, 'pending', 'inflight')
  local state = redis.call('HGET', P .. 'meta', 'state')
  if state == 'running' and num(v[1]) == 0 and num(v[2]) == 0 then
    redis.call('HSET', P .. 'meta', 'state', 'finished')
    state = 'finished'
  end
  return state
end

local function status()
  local v = redis.call('HMGET', N, 'pending', 'inflight', 'admitted', 'done', 'ckver')
  local first = redis.call('ZRANGE', P .. 'ready', 0, 0, 'WITHSCORES')
  local due = -1
  if #first == 2 then due = math.max(0, tonumber(first[2]) - NOW) end
  return {finish_check(), num(v[1]), num(v[2]), num(v[3]), num(v[4]), due, num(v[5])}
end
"""

#: ARGV: machine, timeout ms, identity JSON, joined-before ('1'/'0'), nonce, the nonce of
#: this job dir's last join (or ''), meta fields as name/value pairs (a retried call with
#: the same nonce gets the same session).
#: Returns {'ok', epoch, state, out} or {'lost'} / {'identity', theirs} / {'busy'}.
JOIN = r"""
local machine, timeout, identity, joined, nonce = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local meta = P .. 'meta'
if redis.call('EXISTS', meta) == 0 then
  if joined == '1' then return {'lost'} end
  redis.call('HSET', meta, 'identity', identity, 'state', 'seeding')
  for i = 7, #ARGV, 2 do redis.call('HSET', meta, ARGV[i], ARGV[i + 1]) end
elseif redis.call('HGET', meta, 'identity') ~= identity then
  return {'identity', redis.call('HGET', meta, 'identity')}
end
hear(timeout)
local ep = redis.call('HGET', P .. 'sess', machine)
if ep and redis.call('HGET', P .. 'jn', machine) == nonce .. '|' .. ep then
  return {'ok', ep, redis.call('HGET', meta, 'state'), redis.call('HGET', P .. 'out', machine) or ''}
end
if ep then
  local old = machine .. '#' .. ep
  local last = redis.call('ZSCORE', P .. 'hb', old)
  -- A live session is another machine's, unless it is this job dir's own last join (its
  -- nonce, ARGV[6]): the run that made it has died, since this one holds the dir's lock.
  local ours = ARGV[6] ~= '' and redis.call('HGET', P .. 'jn', machine) == ARGV[6] .. '|' .. ep
  if last and not ours and NOW - tonumber(last) < timeout then return {'busy'} end
  reap(old, true)
end
local epoch = redis.call('HINCRBY', N, 'epoch', 1)
redis.call('HSET', P .. 'sess', machine, epoch)
redis.call('HSET', P .. 'jn', machine, nonce .. '|' .. epoch)
redis.call('ZADD', P .. 'hb', NOW, machine .. '#' .. epoch)
return {'ok', epoch, redis.call('HGET', meta, 'state'), redis.call('HGET', P .. 'out', machine) or ''}
"""

#: ARGV: a JSON array of children (see ``admit``). Returns the number admitted.
ADMIT = r"""
if lost() then return -1 end
local n = 0
for _, c in ipairs(cjson.decode(ARGV[1])) do
  if admit(c) ~= 0 then n = n + 1 end
end
return n
"""

#: Every machine has admitted the seeds once it calls this: the crawl may finish from now.
SEEDED = r"""
if lost() then return -1 end
if redis.call('HGET', P .. 'meta', 'state') == 'seeding' then
  redis.call('HSET', P .. 'meta', 'state', 'running')
end
return 1
"""

#: ARGV: session, n, seq. Returns {status, jobs}: each job {'R', id, host, the host's first
#: element, for its scheme} (robots.txt) or {'P', element, attempts, depth}.
LEASE = r"""
if lost() then return {'lost'} end
local session, n, seq = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local machine, ep = string.match(session, '^(.*)#(%d+)$')
if redis.call('HGET', P .. 'sess', machine) ~= ep then return {'fenced'} end
-- A retried call (its reply lost) gets the same jobs, not a second batch nobody fetches.
local last = redis.call('HGET', P .. 'lr', session)
if last then
  local lseq, ljobs = string.match(last, '^(%S+) (.*)$')
  if lseq == seq then return {status(), cjson.decode(ljobs)} end
end
-- A suspect leased alone holds the session until its outcome comes.
local lone = redis.call('HGET', P .. 'lone', session)
if lone then
  local flv = redis.call('HGET', P .. 'fl', lone)
  if flv and string.match(flv, '^(.*)|') == session and tonumber(string.match(flv, '|(%d+)$')) % 2 == 0 then
    return {status(), {}}
  end
  redis.call('HDEL', P .. 'lone', session)
end
local jobs = {}
local ready = P .. 'ready'
local guard = 0
-- A request may go once no shorter path to it can turn up: its depth is at most one
-- more than the smallest depth with open requests (`low`).
local low = nil
if redis.call('HGET', P .. 'meta', 'flat') ~= '1' then
  for _, d in ipairs(redis.call('HKEYS', P .. 'lvl')) do
    d = tonumber(d)
    if low == nil or d < low then low = d end
  end
end
local held = 0
while #jobs < n and guard < n * 4 do
  guard = guard + 1
  local hs = redis.call('ZRANGEBYSCORE', ready, '-inf', NOW, 'LIMIT', 0, 1)
  if #hs == 0 then break end
  local h = hs[1]
  local hk = P .. 'h:' .. h
  local robots = redis.call('HGET', hk, 'robots')
  if robots ~= '2' then
    local rid = -redis.call('HINCRBY', N, 'next_id', 1)
    redis.call('HSET', hk, 'robots', '1')
    redis.call('ZREM', ready, h)
    redis.call('HSET', P .. 'fl', rid, session .. '|0')
    redis.call('HSET', P .. 'm:' .. session, rid, h .. ' R')
    redis.call('HINCRBY', N, 'inflight', 1)
    jobs[#jobs + 1] = {'R', rid, h, redis.call('ZRANGE', P .. 'q:' .. h, 0, 0)[1] or ''}
  else
    local head = redis.call('ZRANGE', P .. 'q:' .. h, 0, 0)[1]
    local depth = nil
    if head then depth = tonumber(redis.call('HGET', P .. 'pd', key_of(head))) end
    local suspect = head and redis.call('SISMEMBER', P .. 'sus', string.match(head, '^(%-?%d+) ')) == 1
    if suspect and (#jobs > 0 or #open_ids(redis.call('HGETALL', P .. 'm:' .. session)) > 0) then
      redis.call('ZADD', ready, NOW + 50, h)  -- for a machine with nothing open: look again soon
    elseif not head then
      redis.call('ZREM', ready, h)
    elseif low and depth and depth > low + 1 then
      held = held + 1
      redis.call('ZADD', ready, NOW + 50, h)  -- held back for its depth: look again soon
    else
      local el = redis.call('ZPOPMIN', P .. 'q:' .. h)[1]
      local id = string.match(el, '^(%-?%d+) ')
      redis.call('HINCRBY', hk, 'inflight', 1)
      local prev = redis.call('HGET', P .. 'fl', id)
      local flags = '0'
      if prev then flags = string.match(prev, '|(%d+)$') end
      redis.call('HSET', P .. 'fl', id, session .. '|' .. flags)
      redis.call('HSET', P .. 'm:' .. session, id, h .. ' ' .. el)
      redis.call('HINCRBY', N, 'pending', -1)
      redis.call('HINCRBY', N, 'inflight', 1)
      jobs[#jobs + 1] = {'P', el, num(redis.call('HGET', P .. 'att', id)), depth or -1}
      wake(h)
      if suspect then
        redis.call('HSET', P .. 'lone', session, id)
        break
      end
    end
  end
end
-- Nothing in flight anywhere, and every request waiting is held back for its depth (a
-- priority put a deep request ahead of a shallow one): the depths cannot settle any more,
-- so from now on requests go in queue order.
if #jobs == 0 and held > 0 and num(redis.call('HGET', N, 'inflight')) == 0 then
  redis.call('HSET', P .. 'meta', 'flat', '1')
end
redis.call('ZADD', P .. 'hb', NOW, session)
if #jobs > 0 then redis.call('HSET', P .. 'lr', session, seq .. ' ' .. cjson.encode(jobs)) end
return {status(), jobs}
"""

#: ARGV: session, a JSON array of entries:
#:   {t='p', i=id, s=started_ago_ms, c=children, k=cookie changes by jar}  a page's outcome
#:   {t='x', i=id}                                 robots.txt refused it: it ends here
#:   {t='r', i=id, s=, f=fp, b=bucket, h=host, e=element}   a redirect's next hop
#:   {t='q', i=id}                                 given back (Ctrl-C, leaving)
#:   {t='R', i=id, s=, x=text or false, d=delay_ms}  robots.txt arrived
#:   {t='L', i=id}                                 the robots.txt fetch was lost: ask again
#: Returns {status, stale, refused}: entries whose request this session no longer holds
#: are skipped, children and all (``refused``: their ids), and counted in ``stale`` with
#: repeats of outcomes already taken.
OUTCOME = r"""
if lost() then return {'lost'} end
local session = ARGV[1]
local stale = 0
local refused = {}
for _, e in ipairs(cjson.decode(ARGV[2])) do
  local id = tostring(e.i)
  local flags = owner(id, session)
  if flags == nil then
    stale = stale + 1
    refused[#refused + 1] = id
  else
    local held = redis.call('HGET', P .. 'm:' .. session, id)
    local h, rest = string.match(held, '^(%S+) (.*)$')
    local kind = e.t
    -- Cookie changes of a page or a redirect response, in the script that admits what they
    -- lead to (a repeated page outcome is not applied twice).
    if e.k and not (kind == 'p' and flags % 2 == 1) then
      for jar, changes in pairs(e.k) do
        local ck = P .. 'ck:' .. jar
        for _, c in ipairs(changes['set'] or {}) do
          redis.call('HSET', ck, c.domain .. '|' .. c.path .. '|' .. c.name, cjson.encode(c))
        end
        for _, d in ipairs(changes['del'] or {}) do
          redis.call('HDEL', ck, d[1] .. '|' .. d[2] .. '|' .. d[3])
        end
        redis.call('SADD', P .. 'ckj', jar)
      end
      redis.call('HINCRBY', N, 'ckver', 1)
    end
    if kind == 'p' then
      if flags % 2 == 1 then
        stale = stale + 1  -- sent twice (a retried call whose reply was lost)
      else
        for _, c in ipairs(e.c) do admit(c) end
        close(key_of(rest))
        release(h, e.s)
        if flags >= 2 then done(id, session)
        else redis.call('HSET', P .. 'fl', id, session .. '|1') end
      end
    elseif kind == 'x' then
      close(key_of(rest))
      release(h, -1)
      done(id, session)
    elseif kind == 'r' then
      if e.f ~= '' then redis.call('SADD', P .. 's:' .. e.b, e.f) end
      release(h, e.s)
      redis.call('HDEL', P .. 'fl', id)
      redis.call('HDEL', P .. 'm:' .. session, id)
      redis.call('HINCRBY', N, 'inflight', -1)
      ensure_host(e.h)
      redis.call('ZADD', P .. 'q:' .. e.h, AHEAD + tonumber(id), e.e)
      redis.call('HINCRBY', N, 'pending', 1)
      wake(e.h)
    elseif kind == 'q' then
      release(h, -1)
      if flags >= 2 then redis.call('HSET', P .. 'fl', id, '-|2') else redis.call('HDEL', P .. 'fl', id) end
      redis.call('HDEL', P .. 'm:' .. session, id)
      redis.call('HINCRBY', N, 'inflight', -1)
      redis.call('ZADD', P .. 'q:' .. h, AHEAD + tonumber(id), rest)
      redis.call('HINCRBY', N, 'pending', 1)
      wake(h)
    elseif kind == 'R' or kind == 'L' then
      local hk = P .. 'h:' .. h
      if kind == 'R' then
        redis.call('HSET', P .. 'robots', h, e.x or '')
        redis.call('HSET', hk, 'robots', '2')
        local d = tonumber(e.d) or 0
        if d > num(redis.call('HGET', hk, 'delay')) then
          redis.call('HSET', hk, 'delay', d, 'limit', 1)
        end
      else
        redis.call('HDEL', hk, 'robots')
      end
      redis.call('HDEL', P .. 'fl', id)
      redis.call('HDEL', P .. 'm:' .. session, id)
      redis.call('HINCRBY', N, 'inflight', -1)
      wake(h)
    end
  end
end
return {status(), stale, refused}
"""

#: All or nothing. ARGV: machine, offset, records, path, seq, ids... Every id must be
#: leased by the machine's current session, records not committed yet; otherwise nothing
#: changes and the rejected ids come back. ``seq`` (one more than the last accepted) makes
#: a call retried after its reply was lost harmless: it is accepted once.
COMMIT = r"""
if lost() then return {'lost'} end
local machine, seq = ARGV[1], tonumber(ARGV[5])
local cur = redis.call('HGET', P .. 'out', machine)
if cur and seq <= tonumber(string.match(cur, '|(%d+)$')) then return {} end
local ep = redis.call('HGET', P .. 'sess', machine)
local session = machine .. '#' .. (ep or 'none')
local rejected = {}
local flags = {}
for i = 6, #ARGV do
  local f = nil
  if ep then f = owner(ARGV[i], session) end
  if f == nil or f >= 2 then rejected[#rejected + 1] = ARGV[i] else flags[i] = f end
end
if #rejected > 0 then return rejected end
for i = 6, #ARGV do
  if flags[i] == 1 then done(ARGV[i], session)
  else redis.call('HSET', P .. 'fl', ARGV[i], session .. '|2') end
end
redis.call('HSET', P .. 'out', machine, ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[4] .. '|' .. seq)
return {}
"""

#: ARGV: session, timeout ms, reap (1/0). Returns {alive (1/0), status, reaped}.
HEARTBEAT = r"""
if lost() then return {'lost'} end
local session, timeout = ARGV[1], tonumber(ARGV[2])
local machine, ep = string.match(session, '^(.*)#(%d+)$')
if redis.call('HGET', P .. 'sess', machine) ~= ep then return {0, status(), 0} end
redis.call('ZADD', P .. 'hb', NOW, session)
hear(timeout)
local reaped = 0
if ARGV[3] == '1' and NOW >= tonumber(redis.call('HGET', P .. 'meta', 'quiet') or '0') then
  for _, s in ipairs(redis.call('ZRANGEBYSCORE', P .. 'hb', '-inf', NOW - timeout)) do
    reaped = reaped + reap(s, true)
  end
end
return {1, status(), reaped}
"""

#: ARGV: session. Give back what the session holds and end it (a machine leaving).
LEAVE = r"""
if lost() then return -1 end
return reap(ARGV[1], false)
"""

SCRIPTS = {"join": JOIN, "admit": ADMIT, "seeded": SEEDED, "lease": LEASE, "outcome": OUTCOME,
           "commit": COMMIT, "heartbeat": HEARTBEAT, "leave": LEAVE}


def crawl_prefix(crawl_id):
    """Every key of a crawl starts with this (one hash tag: one Redis Cluster slot)."""
    return f"sp:{{{crawl_id}}}:"


#: Seconds a call waits for Redis's answer. Our scripts take milliseconds; a Redis that does
#: not answer in 5 s is stopped or cut off, and the caller notes an outage and tries again
#: later (redis-py itself retries only a refused or dropped connection: retrying a timeout 8
#: times would hold the coordinator's loop for 40 s).
SOCKET_TIMEOUT = 5


def connect(url, volatile=False, outage_errors=False):
    """A redis-py client for ``url``, checked: reachable, and persistent unless ``volatile``.

    :raises UsageError: one line (the extra not installed, a bad URL, unreachable, no AOF);
        with ``outage_errors``, an unreachable Redis raises redis-py's own error instead,
        for a caller that waits it out.
    """
    try:
        import redis
        from redis.backoff import ExponentialBackoff
        from redis.retry import Retry
    except ImportError:
        raise UsageError("--frontier needs redis-py: pip install 'scrapepool[redis]'") from None
    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=SOCKET_TIMEOUT, decode_responses=True,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 0),
            retry_on_error=[redis.ConnectionError])
        info = client.info("persistence")  # one try: a wrong URL is told at once
        # From now on a dropped connection is retried (~5 s: a Redis restarting on its AOF);
        # the callers wait out longer outages themselves.
        client.set_retry(Retry(ExponentialBackoff(cap=1.0, base=0.05), 8))
    except ValueError as exc:
        raise UsageError(f"--frontier {url}: {exc}") from None
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        if outage_errors:
            raise
        raise UsageError(f"--frontier {url}: cannot reach Redis ({_first_line(exc)})") from None
    except redis.RedisError as exc:
        raise UsageError(f"--frontier {url}: cannot reach Redis ({_first_line(exc)})") from None
    if not volatile and not int(info.get("aof_enabled", 0)):
        raise UsageError(f"--frontier {url}: this Redis does not persist (appendonly no): a restart "
                         "would lose the crawl; run it with --appendonly yes, or pass "
                         "--frontier-volatile for a throw-away crawl")
    return client


def fsync_warning(client):
    """A one-line warning when Redis does not fsync every write (``appendfsync`` other than
    ``always``), else None. A Redis crash then loses up to ~1 s of accepted commits, whose
    records are already in the machines' files: those pages come out twice. The replay log
    DISTRIBUTED.md sketches for ``everysec`` is not built; ``always`` costs ~0.1 ms per call
    on a local SSD, with ~1 call per 16 pages."""
    import redis

    try:
        policy = client.config_get("appendfsync").get("appendfsync")
    except redis.RedisError:  # CONFIG renamed or forbidden (managed Redis): say so
        policy = None
    if policy == "always":
        return None
    said = f"appendfsync {policy}" if policy else "an appendfsync policy we cannot read"
    return (f"this Redis runs with {said}: if it crashes, about 1 s of commits is lost and those "
            "pages can be written twice; run it with --appendfsync always for exactly-once")


def _first_line(exc):
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
