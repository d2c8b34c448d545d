-- get.lua: GET a document (JWKS, metadata). wrk ... -s get.lua URL -- KEY
-- checks that each response is a 200 whose body has the JSON key KEY.
dofile(os.getenv("LK_BENCH_LUA") .. "/common.lua")

local key

function init(args)
   key = args[1]
end

function check(status, body)
   return status == 200 and string.find(body, '"' .. key .. '"', 1, true) ~= nil
end
