-- wrk script for bench/run.sh: POSTs a SOAP request to the URL given to wrk, for a notice number
-- picked at random among IUV bases lo..hi (segregation code 01) for every request.
--
--   wrk -t2 -c64 -d10s --latency -s bench/soap.lua http://127.0.0.1:18080/partner \
--       -- TEMPLATE SOAPACTION LO HI [check]
--
-- TEMPLATE is a request body with {{NOTICE}} where the notice number goes. The notice number is
-- "3" + IUV, IUV = seg(2) + base(13) + check(2) with check = (3*10^15 + seg*10^13 + base) mod 93;
-- every intermediate stays below 2^53, so LuaJIT's doubles compute it exactly.
--
-- With "check" the script also reads every response and counts outcome OK / KO / other; done()
-- prints "CHECK ok=.. ko=.. other=.. first_bad=.." so that run.sh can refuse to measure a setup
-- that answers KO. Otherwise responses are not read into Lua (that would slow wrk down), and
-- done() prints one machine-readable "BENCH ..." line.

local SEG = 1
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local function notice(base)
  local check = (3 * 1e15 + SEG * 1e13 + base) % 93
  return string.format("3%02d%013d%02d", SEG, base, check)
end

local prefix, suffix, lo, hi

function init(args)
  local template, action = args[1], args[2]
  lo, hi = tonumber(args[3]), tonumber(args[4])
  if not (template and action and lo and hi) or lo < 1 or hi < lo or hi >= 1e13 then
    error("usage: -- TEMPLATE SOAPACTION LO HI [check]")
  end
  local f = assert(io.open(template, "r"))
  local text = f:read("*a")
  f:close()
  local at = text:find("{{NOTICE}}", 1, true)
  if not at then
    error(template .. " has no {{NOTICE}} placeholder")
  end
  prefix, suffix = text:sub(1, at - 1), text:sub(at + #"{{NOTICE}}")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
  wrk.headers["SOAPAction"] = action
  math.randomseed(4242 + (id or 0))
  if args[5] == "check" then
    ok, ko, other, first_bad = 0, 0, 0, ""
    response = function(status, headers, body)
      if status == 200 and body:find("<outcome>OK</outcome>", 1, true) then
        ok = ok + 1
      else
        if status == 200 and body:find("<outcome>KO</outcome>", 1, true) then
          ko = ko + 1
        else
          other = other + 1
        end
        if first_bad == "" then
          first_bad = "HTTP " .. status .. ": " .. body:sub(1, 600):gsub("%s+", " ")
        end
      end
    end
  end
end

function request()
  local base = math.random(lo, hi)
  return wrk.format(nil, nil, nil, prefix .. notice(base) .. suffix)
end

function done(summary, latency, requests)
  local checked = false
  local ok_n, ko_n, other_n, bad = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    local o = t:get("ok")
    if o ~= nil then
      checked = true
      ok_n = ok_n + o
      ko_n = ko_n + t:get("ko")
      other_n = other_n + t:get("other")
      local b = t:get("first_bad")
      if bad == "" and b ~= nil then bad = b end
    end
  end
  if checked then
    io.write(string.format("CHECK ok=%d ko=%d other=%d first_bad=%s\n", ok_n, ko_n, other_n, bad))
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f mean_us=%.1f " ..
    "bytes=%d connect_err=%d read_err=%d write_err=%d timeout_err=%d non2xx=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    summary.bytes, e.connect, e.read, e.write, e.timeout, e.status))
end
