-- wrk script for every HTTP scenario of benchmarks.run.
-- GET: the URL and headers given on the wrk command line.
-- POST (BENCH_POST_BODY=<file>): the JSON body of that file, each request with "__UNIQUE__" replaced by a
-- value unique to the run, thread and request (the external_id), and a matching unique Idempotency-Key.
-- At the end, one line "BENCH_JSON {...}" with counts and latency percentiles (microseconds).

local post_file = os.getenv("BENCH_POST_BODY")
local nonce = os.getenv("BENCH_NONCE") or tostring(os.time())
local template = nil
local counter = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  if post_file then
    local handle = assert(io.open(post_file, "r"))
    template = handle:read("*a")
    handle:close()
  end
end

function request()
  if template == nil then
    return wrk.format(nil, nil)
  end
  counter = counter + 1
  local unique = nonce .. "-" .. tostring(tid) .. "-" .. tostring(counter)
  local headers = {}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  headers["Content-Type"] = "application/json"
  headers["Idempotency-Key"] = "bench-" .. unique
  local body = template:gsub("__UNIQUE__", unique)
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "socket_errors": %d, "non2xx": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean, latency.max))
end
