import CalsyncJobs
import CalsyncRedis

/// The Lua scripts of the engine. Every state change of a job is one of these, run atomically with
/// EVALSHA; KEYS[1] is the key prefix, time comes from Redis `TIME` (milliseconds).
enum QueueScripts {
    /// Helpers shared by the scripts.
    static let common = #"""
        local P = KEYS[1]
        local function now_ms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        local function load_task(tid)
          local flat = redis.call('HGETALL', P .. ':task:' .. tid)
          if #flat == 0 then return nil end
          local h = {}
          for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
          return h
        end
        local function parses(raw)
          local ok, obj = pcall(cjson.decode, raw)
          if ok and type(obj) == 'table' then return obj end
          return nil
        end
        local function job_id(raw)
          local obj = parses(raw)
          if obj and type(obj.id) == 'string' and #obj.id >= 1 and #obj.id <= 512 then return obj.id end
          return nil
        end
        -- Fallback redaction for deaths decided in Lua before the worker stored a redacted copy. `partial`:
        -- the text is a cut-off head (it cannot parse) and is redacted anyway.
        local function redact(raw, partial)
          if not partial and not parses(raw) then return raw end
          for _, key in ipairs({'authorization_code', 'password'}) do
            local out = {}
            local pos = 1
            while true do
              local s, e = string.find(raw, '"' .. key .. '"%s*:%s*', pos)
              if not s then break end
              out[#out + 1] = string.sub(raw, pos, e)
              local c = string.sub(raw, e + 1, e + 1)
              local j = e + 1
              if c == '"' then
                j = e + 2
                while j <= #raw do
                  local ch = string.sub(raw, j, j)
                  if ch == '\\' then j = j + 2 elseif ch == '"' then break else j = j + 1 end
                end
              elseif c == '{' or c == '[' then
                local depth, instr = 0, false
                while j <= #raw do
                  local ch = string.sub(raw, j, j)
                  if instr then
                    if ch == '\\' then j = j + 1 elseif ch == '"' then instr = false end
                  elseif ch == '"' then instr = true
                  elseif ch == '{' or ch == '[' then depth = depth + 1
                  elseif ch == '}' or ch == ']' then depth = depth - 1; if depth == 0 then break end
                  end
                  j = j + 1
                end
              else
                while j <= #raw and not string.find(string.sub(raw, j, j), '[,}%]%s]') do j = j + 1 end
                j = j - 1
              end
              out[#out + 1] = '"[redacted]"'
              pos = j + 1
            end
            out[#out + 1] = string.sub(raw, pos)
            raw = table.concat(out)
          end
          return raw
        end
        -- Dead records per type (`<prefix>:dead:types`, the console's overview) follow every write and removal.
        local function dead_count(jtype, n)
          local field = jtype or '-'
          if redis.call('HINCRBY', P .. ':dead:types', field, n) <= 0 then redis.call('HDEL', P .. ':dead:types', field) end
        end
        local function dead_forget(id)
          local rec = redis.call('HGET', P .. ':dead', id)
          if rec then
            local r = parses(rec)
            local jtype = nil
            if r and type(r.type) == 'string' then jtype = r.type end
            dead_count(jtype, -1)
            redis.call('HDEL', P .. ':dead', id)
          end
          redis.call('ZREM', P .. ':dead:index', id)
        end
        local function write_dead(now, rid, jtype, reason, err, http, attempts, first_failed, raw, max_count, max_age)
          if rid == nil or rid == '' then rid = 'invalid-' .. redis.call('INCR', P .. ':dead:seq') end
          local existing = redis.call('HGET', P .. ':dead', rid)
          if existing then
            local old = parses(existing)
            if old and tonumber(old.first_failed_at) and tonumber(old.first_failed_at) < first_failed then
              first_failed = tonumber(old.first_failed_at)
            end
          end
          local rec = {id = rid, type = jtype or cjson.null, reason = reason, error = err or cjson.null,
            http_status = http or cjson.null, attempts = attempts, first_failed_at = first_failed,
            last_failed_at = now, raw = raw}
          redis.call('HSET', P .. ':dead', rid, cjson.encode(rec))
          if not existing then dead_count(jtype, 1) end
          redis.call('ZADD', P .. ':dead:index', now, rid)
          local trimmed = 0
          local n = redis.call('ZCARD', P .. ':dead:index')
          if n > max_count then
            local old = redis.call('ZRANGE', P .. ':dead:index', 0, n - max_count - 1)
            for _, id in ipairs(old) do dead_forget(id) end
            trimmed = trimmed + #old
          end
          local aged = redis.call('ZRANGEBYSCORE', P .. ':dead:index', '-inf', '(' .. (now - max_age), 'LIMIT', 0, 100)
          for _, id in ipairs(aged) do dead_forget(id) end
          trimmed = trimmed + #aged
          if trimmed > 0 then redis.call('INCRBY', P .. ':dead:trimmed', trimmed) end
          return rid
        end

        """#

    /// Reaps expired leases, then claims up to ARGV[6] jobs: per (type, cap) pair, due scheduled tasks first,
    /// then the oldest ready jobs. ARGV: lease ms, max lease expiries, worker id, dead max count,
    /// dead max age ms, total, nonce, max job bytes, jobs the worker holds, type1, cap1, … Returns {now, type, tid,
    /// fence, attempts, deferrals, raw, alone (1: run it alone), …}. A ready job longer than max job bytes is
    /// dead-lettered (`invalid_job`) and takes no slot. While an isolated task of these types is due, a worker
    /// holding jobs gets nothing and one holding none gets that task alone.
    /// A fence is `<TIME ms>-<counter>-<nonce>`: the caller's random nonce (one per call) keeps it unique even
    /// after Redis lost recent writes and the counter went back; a fresh job's task id is its first fence.
    static let claim = RedisScript(common + #"""
        local now = now_ms()
        local lease = tonumber(ARGV[1])
        local max_exp = tonumber(ARGV[2])
        local worker = ARGV[3]
        local max_count, max_age = tonumber(ARGV[4]), tonumber(ARGV[5])
        local nonce, max_bytes, held = ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
        local function new_fence()
          return string.format('%d-%d-%s', now, redis.call('INCR', P .. ':fence'), nonce)
        end
        -- A job over the size limit is dead before any worker parses it: its first 4 KiB (cut back to a
        -- whole UTF-8 character, secrets redacted) under its id when it starts with one, else invalid-<n>.
        local function dead_oversized(jtype, raw)
          local cut = math.min(4096, #raw)
          while cut > 0 and cut < #raw and string.byte(raw, cut + 1) >= 128 and string.byte(raw, cut + 1) < 192 do
            cut = cut - 1
          end
          local head = string.sub(raw, 1, cut)
          local rid = string.match(head, '^%s*{%s*"id"%s*:%s*"([^"\\]+)"')
          if rid and #rid > 512 then rid = nil end
          write_dead(now, rid, jtype, 'invalid_job',
            'the job is ' .. #raw .. ' bytes, over the limit of ' .. max_bytes .. ' (CALSYNC_MAX_JOB_BYTES): '
              .. 'send ids instead of documents, or raise the limit on every worker; the record keeps the first 4 KiB',
            nil, 1, now, redact(head, true), max_count, max_age)
        end
        -- A crash takes every job its worker held, so an expiry counts only against a task that ran alone.
        -- A first expiry makes a task `suspect` (scheduled again as usual), a second one `isolated`: it waits
        -- in isolated:<type> for a worker holding nothing, which then runs it alone. Only expiries of
        -- isolated tasks count towards max lease expiries (jobs/README.md, "A job that kills its worker").
        local expired = redis.call('ZRANGEBYSCORE', P .. ':leases', '-inf', now, 'LIMIT', 0, 50)
        for _, tid in ipairs(expired) do
          redis.call('ZREM', P .. ':leases', tid)
          local h = load_task(tid)
          if h then
            local key = P .. ':task:' .. tid
            if h.isolation == 'isolated' then
              local exp = redis.call('HINCRBY', key, 'lease_expiries', 1)
              if exp >= max_exp then
                local raw = h.redacted or redact(h.raw)
                write_dead(now, job_id(h.raw), h.type, 'lease_expired',
                  'the lease expired ' .. exp .. ' times while the job ran alone: it crashes its worker or runs '
                    .. 'longer than its lease without renewal',
                  tonumber(h.last_http_status), (tonumber(h.attempts) or 0) + exp,
                  tonumber(h.first_failed_at) or now, raw, max_count, max_age)
                redis.call('DEL', key)
              else
                redis.call('HSET', key, 'fence', '0', 'worker', '')
                redis.call('ZADD', P .. ':isolated:' .. h.type, now, tid)
              end
            elseif h.isolation == 'suspect' then
              redis.call('HSET', key, 'fence', '0', 'worker', '', 'isolation', 'isolated')
              redis.call('ZADD', P .. ':isolated:' .. h.type, now, tid)
            else
              redis.call('HSET', key, 'fence', '0', 'worker', '', 'isolation', 'suspect')
              redis.call('ZADD', P .. ':scheduled:' .. h.type, now, tid)
            end
          end
        end
        local out = {now}
        local remaining = tonumber(ARGV[6])
        local deadline = now + lease
        -- An isolated task due for one of these types: a worker that holds jobs claims nothing (it drains,
        -- so isolated tasks never starve); a worker that holds nothing takes one, alone.
        for j = 10, #ARGV - 1, 2 do
          local ikey = P .. ':isolated:' .. ARGV[j]
          local waiting = redis.call('ZRANGEBYSCORE', ikey, '-inf', now, 'LIMIT', 0, 1)
          if #waiting > 0 then
            if held > 0 then return out end
            local tid = waiting[1]
            redis.call('ZREM', ikey, tid)
            local key = P .. ':task:' .. tid
            local v = redis.call('HMGET', key, 'raw', 'attempts', 'deferrals')
            if v[1] then
              local fence = new_fence()
              redis.call('HSET', key, 'fence', fence, 'worker', worker)
              redis.call('ZADD', P .. ':leases', deadline, tid)
              out[#out + 1] = ARGV[j]; out[#out + 1] = tid; out[#out + 1] = fence
              out[#out + 1] = tonumber(v[2]) or 0; out[#out + 1] = tonumber(v[3]) or 0; out[#out + 1] = v[1]
              out[#out + 1] = 1
              return out
            end
          end
        end
        local i = 10
        while i < #ARGV and remaining > 0 do
          local jtype = ARGV[i]
          local cap = math.min(tonumber(ARGV[i + 1]), remaining)
          i = i + 2
          local got = 0
          if cap > 0 then
            local skey = P .. ':scheduled:' .. jtype
            local due = redis.call('ZRANGEBYSCORE', skey, '-inf', now, 'LIMIT', 0, cap)
            for _, tid in ipairs(due) do
              redis.call('ZREM', skey, tid)
              local key = P .. ':task:' .. tid
              local v = redis.call('HMGET', key, 'raw', 'attempts', 'deferrals', 'isolation')
              if v[1] and v[4] == 'isolated' then
                -- Back from a retry, deferral or hand-back: it still runs only alone.
                redis.call('ZADD', P .. ':isolated:' .. jtype, now, tid)
              elseif v[1] then
                local fence = new_fence()
                redis.call('HSET', key, 'fence', fence, 'worker', worker)
                redis.call('ZADD', P .. ':leases', deadline, tid)
                out[#out + 1] = jtype; out[#out + 1] = tid; out[#out + 1] = fence
                out[#out + 1] = tonumber(v[2]) or 0; out[#out + 1] = tonumber(v[3]) or 0; out[#out + 1] = v[1]
                out[#out + 1] = 0
                got = got + 1
              end
            end
            -- Oversized jobs take no slot: pop again (a few rounds at most) to fill the cap.
            local rounds = 0
            while got < cap and rounds < 8 do
              rounds = rounds + 1
              local want = cap - got
              local raws = redis.call('RPOP', P .. ':queue:' .. jtype, want)
              if not raws then break end
              for _, raw in ipairs(raws) do
                if #raw > max_bytes then
                  dead_oversized(jtype, raw)
                else
                  local fence = new_fence()
                  local tid = fence
                  redis.call('HSET', P .. ':task:' .. tid, 'raw', raw, 'type', jtype, 'attempts', 0,
                    'lease_expiries', 0, 'deferrals', 0, 'first_claimed_at', now, 'fence', fence, 'worker', worker)
                  redis.call('ZADD', P .. ':leases', deadline, tid)
                  out[#out + 1] = jtype; out[#out + 1] = tid; out[#out + 1] = fence
                  out[#out + 1] = 0; out[#out + 1] = 0; out[#out + 1] = raw; out[#out + 1] = 0
                  got = got + 1
                end
              end
              if #raws < want then break end
            end
          end
          remaining = remaining - got
        end
        return out
        """#)

    /// Acknowledges finished tasks and releases the locks they held. KEYS: prefix, lock keys…; ARGV: tid1,
    /// fence1, tid2, fence2, …, then one token per lock (a lock is deleted only while it holds its token).
    /// Counts the completions per type in `<prefix>:stats:done:<minute>`. Returns {1|0, …} per task (0: stale fence).
    static let ack = RedisScript(common + #"""
        local res = {}
        -- KEYS[2..] are locks the jobs held; their tokens are the last #KEYS - 1 arguments.
        local locks = #KEYS - 1
        local last = #ARGV - locks
        for j = 1, locks do
          if redis.call('GET', KEYS[j + 1]) == ARGV[last + j] then redis.call('DEL', KEYS[j + 1]) end
        end
        local done = {}
        for i = 1, last, 2 do
          local key = P .. ':task:' .. ARGV[i]
          local held = redis.call('HMGET', key, 'fence', 'type')
          if held[1] == ARGV[i + 1] then
            redis.call('DEL', key)
            redis.call('ZREM', P .. ':leases', ARGV[i])
            res[#res + 1] = 1
            if held[2] then done[held[2]] = (done[held[2]] or 0) + 1 end
          else
            res[#res + 1] = 0
          end
        end
        -- Completions per type and minute (the console's throughput), kept 15 minutes.
        local counted = P .. ':stats:done:' .. math.floor(now_ms() / 60000)
        local any = false
        for jtype, n in pairs(done) do
          redis.call('HINCRBY', counted, jtype, n)
          any = true
        end
        if any then redis.call('EXPIRE', counted, 900) end
        return res
        """#)

    /// Releases locks a job held. KEYS: lock keys; ARGV: their tokens. A lock is deleted only while it holds its token.
    static let releaseLocks = RedisScript(#"""
        for j = 1, #KEYS do
          if redis.call('GET', KEYS[j]) == ARGV[j] then redis.call('DEL', KEYS[j]) end
        end
        return #KEYS
        """#)

    /// Extends the leases of tasks still held, and the locks their jobs hold, to now + lease. KEYS: prefix,
    /// then every lock key; ARGV: lease ms, then per task: tid, fence, number of locks; then one token per lock
    /// key, in KEYS order. A task whose fence is stale, or one of whose locks no longer holds its token, is lost:
    /// returns the lost tids (their locks are left alone).
    static let renew = RedisScript(common + #"""
        local lease = tonumber(ARGV[1])
        local deadline = now_ms() + lease
        local lost = {}
        local locks = #KEYS - 1
        local tokens = #ARGV - locks
        local k = 0
        local i = 2
        while i <= tokens do
          local tid, fence, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
          local held = redis.call('HGET', P .. ':task:' .. tid, 'fence') == fence
          for j = 1, n do
            if held and redis.call('GET', KEYS[1 + k + j]) ~= ARGV[tokens + k + j] then held = false end
          end
          if held then
            redis.call('ZADD', P .. ':leases', 'XX', deadline, tid)
            for j = 1, n do redis.call('PEXPIRE', KEYS[1 + k + j], lease) end
          else
            lost[#lost + 1] = tid
          end
          k = k + n
          i = i + 3
        end
        return lost
        """#)

    /// Stores the redacted copy of a held task's text. ARGV: tid, fence, redacted. Returns 1 or 0 (stale).
    static let annotate = RedisScript(common + #"""
        local key = P .. ':task:' .. ARGV[1]
        if redis.call('HGET', key, 'fence') ~= ARGV[2] then return 0 end
        redis.call('HSET', key, 'redacted', ARGV[3])
        return 1
        """#)

    /// Ends a run that did not complete. ARGV: 1 action (retry|defer|dead|handback), 2 tid, 3 fence,
    /// 4 delay ms, 5 limit (max attempts or max deferrals), 6 max job age ms, 7 reason, 8 error,
    /// 9 http status or '', 10 record id or '', 11 redacted raw or '', 12 dead max count, 13 dead max age ms.
    /// Returns 0 (stale fence: nothing changed), 1 (scheduled again) or {2, record id} (dead).
    static let fail = RedisScript(common + #"""
        local action, tid, fence = ARGV[1], ARGV[2], ARGV[3]
        local h = load_task(tid)
        if not h or h.fence ~= fence then return 0 end
        local now = now_ms()
        local key = P .. ':task:' .. tid
        local skey = P .. ':scheduled:' .. h.type
        redis.call('ZREM', P .. ':leases', tid)
        if action == 'handback' then
          redis.call('HSET', key, 'fence', '0', 'worker', '')
          redis.call('ZADD', skey, now, tid)
          return 1
        end
        local delay, limit, max_job_age = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
        local reason, err = ARGV[7], ARGV[8]
        local http = nil
        if ARGV[9] ~= '' then http = tonumber(ARGV[9]) end
        local first_failed = tonumber(h.first_failed_at) or now
        local attempts = tonumber(h.attempts) or 0
        if action == 'retry' then
          attempts = attempts + 1
          local age = now - (tonumber(h.first_claimed_at) or now)
          if attempts >= limit then
            reason = 'attempts_exhausted'
          elseif age >= max_job_age then
            reason = 'too_old'
          else
            redis.call('HSET', key, 'attempts', attempts, 'first_failed_at', first_failed, 'last_error', err,
              'last_http_status', ARGV[9], 'fence', '0', 'worker', '')
            redis.call('ZADD', skey, now + delay, tid)
            return 1
          end
        elseif action == 'defer' then
          local deferrals = (tonumber(h.deferrals) or 0) + 1
          if deferrals > limit then
            reason = 'deferrals_exhausted'
            attempts = attempts + 1
          else
            redis.call('HSET', key, 'deferrals', deferrals, 'fence', '0', 'worker', '')
            redis.call('ZADD', skey, now + delay, tid)
            return 1
          end
        else
          attempts = attempts + 1
        end
        local raw = ARGV[11]
        if raw == '' then raw = h.redacted or h.raw end
        local rid = write_dead(now, ARGV[10], h.type, reason, err, http, attempts, first_failed, raw,
          tonumber(ARGV[12]), tonumber(ARGV[13]))
        redis.call('DEL', key)
        return {2, rid}
        """#)

    /// Moves one dead record back to its ready list. ARGV: record id. Returns 1, 0 (no such record) or -1 (no type).
    static let deadRetry = RedisScript(common + #"""
        local rec = redis.call('HGET', P .. ':dead', ARGV[1])
        if not rec then return 0 end
        local r = parses(rec)
        if not r or type(r.type) ~= 'string' or type(r.raw) ~= 'string' then return -1 end
        redis.call('LPUSH', P .. ':queue:' .. r.type, r.raw)
        dead_forget(ARGV[1])
        return 1
        """#)

    /// Moves every dead record (of type ARGV[1] when not '') back to its ready list, oldest first. Returns how many.
    static let deadRetryAll = RedisScript(common + #"""
        local ids = redis.call('ZRANGE', P .. ':dead:index', 0, -1)
        local moved = 0
        for _, id in ipairs(ids) do
          local rec = redis.call('HGET', P .. ':dead', id)
          local r = rec and parses(rec)
          if r and type(r.type) == 'string' and type(r.raw) == 'string' and (ARGV[1] == '' or r.type == ARGV[1]) then
            redis.call('LPUSH', P .. ':queue:' .. r.type, r.raw)
            dead_forget(id)
            moved = moved + 1
          end
        end
        return moved
        """#)

    /// Deletes dead records whose last failure is older than ARGV[1] ms ('' = all). Returns how many.
    static let deadPurgeAll = RedisScript(common + #"""
        local ids
        if ARGV[1] == '' then
          ids = redis.call('ZRANGE', P .. ':dead:index', 0, -1)
        else
          ids = redis.call('ZRANGEBYSCORE', P .. ':dead:index', '-inf', '(' .. (now_ms() - tonumber(ARGV[1])))
        end
        if ARGV[1] == '' then
          for _, id in ipairs(ids) do
            redis.call('HDEL', P .. ':dead', id)
            redis.call('ZREM', P .. ':dead:index', id)
          end
          local rest = redis.call('HKEYS', P .. ':dead')
          for _, id in ipairs(rest) do redis.call('HDEL', P .. ':dead', id) end
          redis.call('DEL', P .. ':dead:types')
          return #ids + #rest
        end
        for _, id in ipairs(ids) do dead_forget(id) end
        return #ids
        """#)

    /// Deletes one dead record. ARGV: record id. Returns 1 or 0.
    static let deadPurge = RedisScript(common + #"""
        local found = redis.call('HEXISTS', P .. ':dead', ARGV[1])
        dead_forget(ARGV[1])
        return found
        """#)
}
