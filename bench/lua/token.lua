-- token.lua: POST a form to a token-like endpoint with HTTP Basic client
-- authentication. wrk ... -s token.lua URL -- AUTH BODY EXPECT
--   AUTH   the whole Authorization header value ("" for none)
--   BODY   the form body, e.g. grant_type=client_credentials&scope=read
--   EXPECT jwt    a 200 with a JWT (three dot-separated parts) access_token
--          opaque a 200 with a non-empty access_token of b64token characters
--                 (RFC 6750) and "token_type":"Bearer": only for a peer whose
--                 peer.json says access_token_format "opaque"
--          active a 200 introspection answer with "active":true
dofile(os.getenv("LK_BENCH_LUA") .. "/common.lua")

local expect
sample_every = 1

function init(args)
   wrk.method = "POST"
   if args[1] ~= "" then wrk.headers["Authorization"] = args[1] end
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
   wrk.body = args[2]
   expect = args[3]
end

function check(status, body)
   if status ~= 200 then return false end
   if expect == "jwt" then
      return access_token_ok(body, "jwt")
   elseif expect == "opaque" then
      return access_token_ok(body, "opaque")
   elseif expect == "active" then
      return string.match(body, '"active"%s*:%s*true') ~= nil
   end
   return true
end
