-- refresh.lua: refresh_token grant with rotation, every request presenting
-- a refresh token never presented before.
--   LK_BENCH_POOL=POOL_FILE wrk ... -s refresh.lua URL -- AUTH [FORMAT]
-- FORMAT is the access token's: jwt (the default) or opaque (only for a
-- peer whose peer.json says access_token_format "opaque"); see
-- access_token_ok in common.lua.
-- (an environment variable, because done() runs in a Lua state of its own
-- that never sees init's arguments)
-- Thread t takes lines t, t+n, t+2n... of POOL_FILE as its queue. Each
-- request takes the oldest token of the queue; each 200 puts the rotated
-- token it returns at the back, as a client that refreshes on 401 would.
-- At the end the tokens still queued (never presented) are written back to
-- POOL_FILE, so the next run starts with fresh ones. A token in flight
-- when wrk stops is lost, so the pool shrinks by at most one token per
-- connection per run.
dofile(os.getenv("LK_BENCH_LUA") .. "/common.lua")

local auth
local format
local pool_file = os.getenv("LK_BENCH_POOL")
queue = {}
local head, tail = 1, 0

function init(args)
   auth = args[1]
   format = args[2] or "jwt"
   local n = tonumber(os.getenv("LK_BENCH_THREADS") or "1")
   local i = 0
   for line in io.lines(pool_file) do
      if line ~= "" and i % n == tid then
         tail = tail + 1
         queue[tail] = line
      end
      i = i + 1
   end
end

local function urlencode(s)
   return (string.gsub(s, "[^%w%-%._~]", function(c)
      return string.format("%%%02X", string.byte(c))
   end))
end

request = function()
   local t = queue[head]
   if t == nil then
      t = "pool-exhausted"
   else
      queue[head] = nil
      head = head + 1
   end
   return wrk.format("POST", nil, {
      ["Authorization"] = auth,
      ["Content-Type"] = "application/x-www-form-urlencoded",
   }, "grant_type=refresh_token&refresh_token=" .. urlencode(t))
end

function check(status, body)
   return status == 200 and access_token_ok(body, format) and
      string.match(body, '"refresh_token"%s*:%s*"[^"]+"') ~= nil
end

function after_response(status, body)
   local t = string.match(body or "", '"refresh_token"%s*:%s*"([^"]+)"')
   if status == 200 and t then
      tail = tail + 1
      queue[tail] = t
   end
end

-- Presented tokens are nil in queue, so what is left is what was never
-- presented (the copy between Lua states skips the holes).
function after_done()
   local f = io.open(pool_file, "w")
   for _, t in ipairs(threads) do
      for _, tok in pairs(t:get("queue") or {}) do f:write(tok, "\n") end
   end
   f:close()
end
