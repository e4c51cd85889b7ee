-- Every request asks for a title nobody asked for before: a cold resolve each time.
local counter = 0
local base = tonumber(os.getenv("ID_BASE") or "100000")
function setup(thread)
  thread:set("offset", counter * 10000000)
  counter = counter + 1
end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", string.format(os.getenv("PATH_PREFIX") or "/api/streaming/resolve/movie/%d", base + offset + n))
end
