-- The benchmark driver (`make bench`): every workload of issue 7 against every
-- implementation, side by side in one run, client and server as separate processes on
-- 127.0.0.1 with the same certificates.
--
--   lua5.4 bench/run.lua [--quick] [--runs N] [--only W1,W3] [--impl raw,lw-fd]
--                        [--out build/bench/results.txt]
--
-- Implementations: raw (bench/raw.c: the system wolfSSL in C, the limit), lw-fd
-- (lua-wolfssl, fd transport), lw-mem (lua-wolfssl, memory transport over LuaSocket),
-- luasec (Debian's LuaSec over OpenSSL). Each workload runs client and server of the
-- same implementation. Runs are interleaved (run 1 of every implementation, then run 2,
-- ...) so that a burst of load from elsewhere hits all of them alike. --pin puts the
-- server on CPU 0 and the client on CPU 1 (taskset): steadier on an idle machine, worse
-- on a shared one, where the pinned core may be the busy one.
--
-- Prints one line per result (impl, workload, median, min, max, runs, unit, ratio to
-- raw) and then the issue's targets with the measured ratios. Writes the same lines,
-- '|'-separated, to --out for `make bench-plot`.
local socket = require "socket"

local HERE = arg[0]:match("^(.*)/[^/]*$") or "."
local ROOT = HERE .. "/.."

local opt = { runs = nil, out = ROOT .. "/build/bench/results.txt" }
do
  local i = 1
  while arg[i] do
    local a = arg[i]
    if a == "--quick" then opt.quick = true; i = i + 1
    elseif a == "--runs" then opt.runs = tonumber(arg[i + 1]); i = i + 2
    elseif a == "--only" then opt.only = arg[i + 1]; i = i + 2
    elseif a == "--impl" then opt.impl = arg[i + 1]; i = i + 2
    elseif a == "--out" then opt.out = arg[i + 1]; i = i + 2
    elseif a == "--pin" then opt.pin = true; i = i + 1
    else error("unknown argument " .. a) end
  end
end

-- Sizes: the issue's numbers in a full run; a quick run (CI, iterating) keeps the same
-- shapes at a fraction of the time.
local Q = opt.quick
local HS_SECONDS = Q and 1 or 3
local RUNS = opt.runs or (Q and 3 or 5)
local BULK_RUNS = opt.runs or (Q and 3 or 5)
local BULK = Q and 16 * 1048576 or 256 * 1048576
local IDLE = Q and 200 or 1000

local LUA = os.getenv("LW_LUA") or "lua5.4"
local BUILD = ROOT .. "/build/bench"
local CERTS = BUILD .. "/certs"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("*a")
  local ok = p:close()
  return out, ok
end

---------------------------------------------------------------------------------------
-- certificates: one test CA (P-256), an ECDSA P-256 leaf and an RSA-2048 leaf

local function certs()
  local f = io.open(CERTS .. "/rsa.pem")
  if f then f:close(); return end
  assert(os.execute("mkdir -p " .. q(CERTS)))
  local function run(cmd)
    local out, ok = sh("cd " .. q(CERTS) .. " && " .. cmd)
    if not ok then error("certificate generation failed: " .. cmd .. "\n" .. out) end
  end
  run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key")
  run("openssl req -x509 -new -key ca.key -out ca.pem -subj /CN=bench-ca -days 365 -config /dev/null"
    .. " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign")
  run("printf 'basicConstraints=critical,CA:FALSE\\nextendedKeyUsage=serverAuth\\n"
    .. "subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > leaf.ext")
  for _, k in ipairs({ "ec", "rsa" }) do
    if k == "ec" then run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key")
    else run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key") end
    run(("openssl req -new -key %s.key -out %s.csr -subj /CN=localhost -config /dev/null"):format(k, k))
    run(("openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out %s.pem"
      .. " -days 365 -extfile leaf.ext"):format(k, k))
  end
end

---------------------------------------------------------------------------------------
-- implementations and workloads

local IMPLS = {
  { name = "raw", cmd = BUILD .. "/raw" },
  { name = "lw-fd", cmd = LUA .. " " .. HERE .. "/lw.lua", extra = "--transport fd" },
  { name = "lw-mem", cmd = LUA .. " " .. HERE .. "/lw.lua", extra = "--transport mem" },
  { name = "luasec", cmd = LUA .. " " .. HERE .. "/luasec.lua" },
}
local RELEASE = { name = "lw-fd+release", cmd = LUA .. " " .. HERE .. "/lw.lua", extra = "--transport fd --release" }
local TRACE = { name = "lw-fd+trace", cmd = LUA .. " " .. HERE .. "/lw.lua", extra = "--transport fd --trace" }

local EC = { cert = "ec.pem", key = "ec.key" }
local RSA = { cert = "rsa.pem", key = "rsa.key" }
local AES = "TLS13-AES128-GCM-SHA256"
local CHACHA = "TLS13-CHACHA20-POLY1305-SHA256"

local WORKLOADS = {
  -- every workload names its suite, so all implementations do the same crypto whatever
  -- their defaults (lua-wolfssl's server default prefers ChaCha20, raw wolfSSL AES-GCM)
  { id = "W1", name = "W1 tls1.3 full ecdsa x25519", mode = "hs", tls = "1.3", pki = EC, cipher = AES },
  { id = "W1b", name = "W1b tls1.2 full ecdhe-rsa2048", mode = "hs", tls = "1.2", pki = RSA,
    cipher = "ECDHE-RSA-AES128-GCM-SHA256" },
  { id = "W2", name = "W2 tls1.3 resumed ticket", mode = "resume", tls = "1.3", pki = EC, cipher = AES },
  { id = "W2", name = "W2 tls1.2 resumed session-id", mode = "resume", tls = "1.2", pki = RSA,
    cipher = "ECDHE-RSA-AES128-GCM-SHA256" },
  { id = "W3", name = "W3 bulk up aes128-gcm", mode = "up", pki = EC, cipher = AES, bulk = true },
  { id = "W3", name = "W3 bulk down aes128-gcm", mode = "down", pki = EC, cipher = AES, bulk = true },
  { id = "W3", name = "W3 bulk up chacha20", mode = "up", pki = EC, cipher = CHACHA, bulk = true },
  { id = "W3", name = "W3 bulk down chacha20", mode = "down", pki = EC, cipher = CHACHA, bulk = true },
  { id = "W4", name = "W4 idle conn server RSS", mode = "idle", pki = EC, cipher = AES, idle = true,
    impls = { IMPLS[1], IMPLS[2], IMPLS[3], IMPLS[4], RELEASE } },
  { id = "W5", name = "W5 trace off/on (W1)", mode = "hs", tls = "1.3", pki = EC, cipher = AES,
    impls = { IMPLS[2], TRACE } },
}

local function wanted(list, name)
  if not list then return true end
  for item in list:gmatch("[^,]+") do if item == name then return true end end
  return false
end

---------------------------------------------------------------------------------------
-- processes

local PIN = opt.pin and sh("command -v taskset"):find("taskset") and tonumber((sh("nproc"))) >= 2
local function pinned(cpu, cmd) return PIN and ("taskset -c " .. cpu .. " " .. cmd) or cmd end

local logn = 0
local function start_server(cmd)
  logn = logn + 1
  local log = BUILD .. "/server" .. logn .. ".log"
  local p = io.popen(("sh -c %s & echo $!"):format(q("exec " .. pinned(0, cmd) .. " >" .. q(log) .. " 2>&1")))
  local pid = tonumber(p:read("*l"))
  p:close()
  local deadline = socket.gettime() + 20
  while socket.gettime() < deadline do
    local f = io.open(log)
    local text = f and f:read("*a") or ""
    if f then f:close() end
    local port = text:match("ready (%d+)")
    if port then return { pid = pid, log = log, port = tonumber(port) } end
    socket.sleep(0.02)
  end
  os.execute("kill " .. pid .. " 2>/dev/null")
  error("server did not start: " .. cmd)
end

local function stop_server(s)
  os.execute("kill " .. s.pid .. " 2>/dev/null")
  os.remove(s.log)
end

local function server_log(s)
  local f = io.open(s.log)
  local t = f and f:read("*a") or ""
  if f then f:close() end
  return t
end

local function wait_exit(s, seconds)
  local deadline = socket.gettime() + seconds
  while socket.gettime() < deadline do
    if not os.execute("kill -0 " .. s.pid .. " 2>/dev/null") then return true end
    socket.sleep(0.05)
  end
  return false
end

---------------------------------------------------------------------------------------
-- one workload on one implementation

local function args_for(w, role)
  local a = { w.mode }
  if w.tls then a[#a + 1] = "--tls " .. w.tls end
  if w.cipher then a[#a + 1] = "--cipher " .. w.cipher end
  if role == "server" then
    a[#a + 1] = "--cert " .. q(CERTS .. "/" .. w.pki.cert) .. " --key " .. q(CERTS .. "/" .. w.pki.key)
  else
    a[#a + 1] = "--ca " .. q(CERTS .. "/ca.pem") .. " --duration " .. HS_SECONDS
  end
  if w.bulk then a[#a + 1] = "--bytes " .. BULK end
  if w.idle then a[#a + 1] = "--conns " .. IDLE .. " --base 100" end
  return table.concat(a, " ")
end

local TICK = tonumber((sh("getconf CLK_TCK"))) or 100

-- user+system CPU seconds a process has used so far
local function cpu_of(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return nil end
  local stat = f:read("*l") or ""
  f:close()
  local rest = stat:match("^%d+ %b() (.*)$")
  if not rest then return nil end
  local fields = {}
  for x in rest:gmatch("%S+") do fields[#fields + 1] = x end
  -- after pid and comm: state is field 3, utime 14, stime 15 (man 5 proc)
  return (tonumber(fields[12]) + tonumber(fields[13])) / TICK
end

local function parse(out)
  local v, unit = out:match("result (%S+) ([^\n]*)")
  return tonumber(v), unit
end

-- one run: a number, its unit, and (W4) the Lua bytes; or nil, why
local function run_once(impl, w)
  local extra = impl.extra and (" " .. impl.extra) or ""
  local srv = start_server(impl.cmd .. " server 0 " .. args_for(w, "server") .. extra)
  local ulimit = w.idle and "ulimit -n 8192 2>/dev/null; " or ""
  local ccmd = ("%stimeout 600 %s client %d %s%s"):format(ulimit, pinned(1, impl.cmd), srv.port,
    args_for(w, "client"), extra)
  local scpu0 = cpu_of(srv.pid)
  local out, ok = sh("sh -c " .. q(ccmd))
  local scpu1 = cpu_of(srv.pid)
  local v, unit, lua
  if w.idle then
    wait_exit(srv, 30)
    local log = server_log(srv)
    v, unit = parse(log)
    lua = tonumber(log:match("lua (%S+) bytes"))
    local sock = tonumber(log:match("socket (%S+) bytes"))
    if lua then lua = { lua = lua, socket = sock } end
    if not v then out = out .. log end
  else
    v, unit = parse(out)
    -- CPU per unit of work, client and server together
    local ccpu, count = out:match("cpu (%S+) count (%S+)")
    if ccpu and scpu0 and scpu1 and tonumber(count) > 0 then
      lua = { cpu = (tonumber(ccpu) + scpu1 - scpu0) / tonumber(count) }
    end
  end
  stop_server(srv)
  if unit and unit:find("^n/a") then return nil, unit end
  if not ok or not v then return nil, "failed: " .. out:gsub("\n", " "):sub(1, 300) end
  return v, unit, lua
end

local function median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) / 2] end
  return (s[n / 2] + s[n / 2 + 1]) / 2
end

---------------------------------------------------------------------------------------
-- main

certs()
os.execute("mkdir -p " .. q(BUILD))
local load = (sh("cat /proc/loadavg")):match("^(%S+ %S+ %S+)")
print(("lua-wolfssl benchmark%s: %d run(s) per result (bulk %d), %s handshake runs of %ds, bulk %d MiB, W4 %d connections"):format(
  Q and " (quick)" or "", RUNS, BULK_RUNS, RUNS, HS_SECONDS, BULK // 1048576, IDLE))
print(("machine: %s CPUs, load average %s%s; wolfSSL %s"):format((sh("nproc")):gsub("%s", ""), load,
  PIN and ", server pinned to CPU 0, client to CPU 1" or "",
  (sh(LUA .. " -e 'print(require(\"wolfssl\").wolfssl_version)'")):gsub("%s", "")))
print("NOTE: numbers from a shared or loaded machine are noisy: compare ratios within one run.")
print("      [cpu ...] is client+server CPU time per handshake or per MB, which load from")
print("      other processes moves far less than wall-clock rates.")
print()

local results = {}   -- name -> impl -> { median, min, max, runs, unit, lua }
local lines = {}
local HDR = ("%-12s %-32s %10s %10s %10s %4s  %-6s %s"):format("impl", "workload", "median", "min", "max", "runs", "unit", "ratio")
print(HDR)
print(("-"):rep(#HDR + 10))

local function ratio_text(w, impl, r)
  local base = results[w.name][w.impls and w.impls[1].name or "raw"]
  if not base or impl == (w.impls and w.impls[1].name or "raw") then return "" end
  if w.idle then
    return ("%+.0f B/conn vs raw"):format(r.median - base.median)
  end
  return ("%.2fx %s"):format(r.median / base.median, w.id == "W5" and "of trace off" or "raw")
end

local t_start = socket.gettime()
for _, w in ipairs(WORKLOADS) do
  if wanted(opt.only, w.id) then
    results[w.name] = {}
    local impls = {}
    for _, impl in ipairs(w.impls or IMPLS) do
      if wanted(opt.impl, impl.name) or (impl.name:find("+", 1, true) and wanted(opt.impl, "lw-fd")) then
        impls[#impls + 1] = impl
      end
    end
    local vals, units, why, extra, cpus = {}, {}, {}, {}, {}
    local runs = w.bulk and BULK_RUNS or (w.idle and 1 or RUNS)
    for _ = 1, runs do
      for _, impl in ipairs(impls) do
        if not why[impl.name] then
          local pok, v, u, lua = pcall(run_once, impl, w)
          if not pok then v, u = nil, tostring(v) end
          if not v then why[impl.name] = u
          else
            vals[impl.name] = vals[impl.name] or {}
            table.insert(vals[impl.name], v)
            units[impl.name] = u
            if lua and lua.cpu then
              cpus[impl.name] = cpus[impl.name] or {}
              table.insert(cpus[impl.name], lua.cpu)
            elseif lua then
              extra[impl.name] = lua
            end
          end
        end
      end
    end
    for _, impl in ipairs(impls) do
      local t, line = vals[impl.name], nil
      if why[impl.name] or not t then
        line = ("%-12s %-32s %10s %10s %10s %4d  %-6s %s"):format(impl.name, w.name, "-", "-", "-", 0, "",
          why[impl.name] or "")
      else
        local r = { median = median(t), min = math.min(table.unpack(t)), max = math.max(table.unpack(t)),
                    runs = #t, unit = units[impl.name], lua = extra[impl.name],
                    cpu = cpus[impl.name] and median(cpus[impl.name]) }
        results[w.name][impl.name] = r
        local ratio = ratio_text(w, impl.name, r)
        if r.cpu then
          local base = results[w.name][w.impls and w.impls[1].name or "raw"]
          local per = w.bulk and "MB" or "hs"
          ratio = ratio .. (" [cpu %.0f us/%s%s]"):format(r.cpu * 1e6, per,
            base and base ~= r and base.cpu and (" = %.2fx"):format(base.cpu / r.cpu) or "")
        end
        if r.lua then
          ratio = ratio .. (" (Lua heap %.0f B/conn, of which LuaSocket %.0f)"):format(r.lua.lua, r.lua.socket or 0)
        end
        line = ("%-12s %-32s %10.1f %10.1f %10.1f %4d  %-6s %s"):format(impl.name, w.name, r.median, r.min,
          r.max, r.runs, r.unit, ratio)
        lines[#lines + 1] = table.concat({ impl.name, w.id, w.name, r.median, r.min, r.max, r.runs, r.unit,
          r.lua and r.lua.lua or "", r.lua and r.lua.socket or "", r.cpu or "" }, "|")
      end
      print(line)
      io.stdout:flush()
    end
  end
end

-- the issue's targets, as measured in this run
print()
print("targets (issue 7 item 2):")
local function target(desc, ok, detail)
  if ok == nil then print(("  %-58s %s"):format(desc, "not measured" .. (detail and (": " .. detail) or "")))
  else print(("  %-58s %-5s %s"):format(desc, ok and "met" or "MISS", detail or "")) end
end
local function get(wname, impl) return results[wname] and results[wname][impl] end
for _, w in ipairs(WORKLOADS) do
  if not w.idle and w.id ~= "W5" then
    local raw = get(w.name, "raw")
    for _, t in ipairs({ { "lw-fd", 0.95 }, { "lw-mem", 0.8 } }) do
      local r = get(w.name, t[1])
      if raw and r then
        target(("%s >= %.2fx raw on %s"):format(t[1], t[2], w.name), r.median / raw.median >= t[2],
          ("%.2fx%s"):format(r.median / raw.median,
            raw.cpu and r.cpu and (" (by CPU per unit: %.2fx)"):format(raw.cpu / r.cpu) or ""))
      elseif raw then
        target(("%s >= %.2fx raw on %s"):format(t[1], t[2], w.name), nil)
      end
    end
  end
end
do
  local w1 = WORKLOADS[1].name
  local lw, ls = get(w1, "lw-fd"), get(w1, "luasec")
  if lw and ls then
    target("lw-fd faster than LuaSec on W1 (X25519)", lw.median > ls.median, ("%.2fx%s"):format(lw.median / ls.median,
      lw.cpu and ls.cpu and (" (by CPU per handshake: %.2fx)"):format(ls.cpu / lw.cpu) or ""))
  end
  local w4 = WORKLOADS[9].name
  local raw4, lw4 = get(w4, "raw"), get(w4, "lw-fd")
  if raw4 and lw4 then
    -- the LuaSocket object is the script's socket, not the binding's: raw C has none
    local sock = lw4.lua and lw4.lua.socket or 0
    local own = lw4.median - sock - raw4.median
    target("W4 lw-fd <= raw + 4 KiB per connection (without LuaSocket)", own <= 4096,
      ("%+.0f B/conn (%+.0f with the LuaSocket object)"):format(own, lw4.median - raw4.median))
  end
  local w5 = WORKLOADS[10].name
  local off, on = get(w5, "lw-fd"), get(w5, "lw-fd+trace")
  if off and on then target("W5 trace on <= 1.3x trace off (handshake time)", off.median / on.median <= 1.3,
    ("%.2fx"):format(off.median / on.median))
  elseif off then target("W5 trace on <= 1.3x trace off", nil, "the trace (on_message) is not built yet") end
end
print()
print(("total %.0f s; load average now %s"):format(socket.gettime() - t_start,
  (sh("cat /proc/loadavg")):match("^(%S+ %S+ %S+)")))

os.execute("mkdir -p " .. q(opt.out:match("^(.*)/") or "."))
local f = assert(io.open(opt.out, "w"))
f:write("# impl|workload id|workload|median|min|max|runs|unit|lua bytes/conn|luasocket bytes/conn|cpu s/unit\n")
f:write("# ", os.date("!%Y-%m-%dT%H:%M:%SZ"), Q and " quick" or " full", " load ", load, "\n")
for _, l in ipairs(lines) do f:write(l, "\n") end
f:close()
print("results written to " .. opt.out)
