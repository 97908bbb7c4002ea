-- wrk script for `make bench`: POSTs pre-signed webhook deliveries.
-- BENCH_BODIES names a file of lines "signature<TAB>key path<TAB>body".
-- BENCH_MODE=unique: the lines are dealt out to the threads, each request
-- carries a different event id, and a thread stops once every one of its
-- bodies has been answered (so no duplicates). BENCH_MODE=dup: every request
-- repeats the first body (after the first, all are journal duplicates) for
-- wrk's -d duration. done() prints one machine-readable "BENCH ..." line.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *ts);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
   ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC: comparable across threads
   return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   local file = os.getenv("BENCH_BODIES")
   local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
   local mode = os.getenv("BENCH_MODE") or "unique"
   local i = 0
   reqs = {}
   for line in io.lines(file) do
      if mode ~= "unique" or i % nthreads == id then
         local sig, path, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
         reqs[#reqs + 1] = wrk.format("POST", nil, {
            ["Content-Type"] = "application/json",
            ["x-adobe-digital-signature-1"] = sig,
            ["x-adobe-public-key1-path"] = path,
            ["x-adobe-digital-signature-2"] = sig,
            ["x-adobe-public-key2-path"] = path,
         }, body)
      end
      i = i + 1
      if mode ~= "unique" and #reqs >= 1 then break end
   end
   n = 0
   answered = 0
   non200 = 0
   limit = (mode == "unique") and #reqs or -1
   first_us = 0
   last_us = 0
end

function request()
   if n == 0 then first_us = now_us() end
   n = n + 1
   return reqs[(n - 1) % #reqs + 1]
end

function response(status, headers, body)
   answered = answered + 1
   if status ~= 200 then non200 = non200 + 1 end
   if limit > 0 and answered == limit then
      last_us = now_us()
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   -- wrk divides by its whole -d time even when threads stop early, so in
   -- unique mode the duration is from the first request to the last answer.
   local bad, t0, t1, dur = 0, nil, 0, summary.duration
   for _, t in ipairs(threads) do
      bad = bad + t:get("non200")
      local f, l = t:get("first_us"), t:get("last_us")
      if f > 0 and (t0 == nil or f < t0) then t0 = f end
      if l == 0 then t1 = -1 elseif t1 >= 0 and l > t1 then t1 = l end
   end
   if t0 ~= nil and t1 > t0 then dur = t1 - t0 end
   local e = summary.errors
   io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d " ..
      "p999_us=%d max_us=%d non200=%d sock_errors=%d\n",
      summary.requests, dur, latency:percentile(50), latency:percentile(99),
      latency:percentile(99.9), latency.max, bad,
      e.connect + e.read + e.write + e.timeout))
end
