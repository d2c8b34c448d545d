-- common.lua: what every workload shares. Each wrk thread counts the
-- responses it checked and the ones that failed the check; done() prints
-- one JSON line (prefixed "BENCH ") that bench.py reads.
--
-- A workload sets `check(status, body)` (true when the response is what a
-- real client expects) and may set `sample_every` (check one response in
-- N; 1 checks all of them).

threads = {}
sample_every = 1
seen, checked, bad = 0, 0, 0
first_bad = nil

-- True when a token response body carries an access token of the given
-- format: "jwt" (three dot-separated base64url parts) or "opaque" (a
-- non-empty b64token, RFC 6750 section 2.1, with token_type Bearer; for
-- peers whose tokens are not JWTs). Anything else is false.
function access_token_ok(body, format)
   if format == "jwt" then
      return string.match(body, '"access_token"%s*:%s*"[%w_-]+%.[%w_-]+%.[%w_-]+"') ~= nil
   elseif format == "opaque" then
      return string.match(body, '"access_token"%s*:%s*"[%w%-%._~%+/]+=*"') ~= nil and
         string.match(body, '"token_type"%s*:%s*"[Bb][Ee][Aa][Rr][Ee][Rr]"') ~= nil
   end
   return false
end

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function response(status, headers, body)
   seen = seen + 1
   if seen % sample_every == 0 or status < 200 or status > 299 then
      checked = checked + 1
      if not check(status, body) then
         bad = bad + 1
         if first_bad == nil then
            first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 200)
         end
      end
   end
   if after_response then after_response(status, body) end
end

local function jstr(s)
   s = string.gsub(s or "", '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. s .. '"'
end

function done(summary, latency, requests)
   local c, b, fb = 0, 0, nil
   for _, t in ipairs(threads) do
      c = c + (t:get("checked") or 0)
      b = b + (t:get("bad") or 0)
      fb = fb or t:get("first_bad")
   end
   if after_done then after_done() end
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,' ..
      '"p99_us":%d,"max_us":%d,"non2xx":%d,"connect_errors":%d,' ..
      '"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
      '"checked":%d,"bad":%d,"first_bad":%s}\n',
      summary.requests, summary.duration, latency:percentile(50),
      latency:percentile(90), latency:percentile(99), latency.max,
      e.status, e.connect, e.read, e.write, e.timeout, c, b,
      fb and jstr(fb) or "null"))
end
