-- shared_tickets.lua CERT KEY CAFILE [--tls1.2]
-- shared_tickets.lua serve SECRETFILE CERT KEY [--tls1.2]
--
-- Two server processes that share session-ticket keys, so a session one of them issued
-- resumes on the other: what a fleet behind a load balancer (or OpenResty's workers)
-- needs. Both derive their keys from one secret with wolfssl.ticket_keys(secret),
-- rotating every hour; nothing else is shared.
--
-- The first form is the demo: it writes a random secret to a private file, starts two
-- servers (the second form) on free ports, makes a full handshake with server A, then
-- offers that session to server B:
--   server A: resumed=false TLSv1.3
--   server B: resumed=true TLSv1.3
local socket = require "socket"
local wolfssl = require "wolfssl"

local tls12 = false
for _, a in ipairs(arg) do if a == "--tls1.2" then tls12 = true end end
local version = tls12 and "tls1.2" or "tls1.3"

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

-- serve SECRETFILE CERT KEY: a server on a free port, until it is killed
local function serve(secretfile, cert, key)
  local ctx = assert(wolfssl.context({
    role = "server", certificate = cert, key = key, max_version = version,
    ticket_keys = wolfssl.ticket_keys(read_file(secretfile)),
  }))
  local listener = assert(socket.bind("127.0.0.1", 0))
  local _, port = listener:getsockname()
  print("listening on 127.0.0.1:" .. port)
  io.stdout:flush()
  while true do
    local client = listener:accept()
    if client then
      local conn = assert(ctx:connection({ fd = client:getfd() }))
      conn:settimeout(10)
      if conn:handshake() then
        conn:write(("resumed=%s\n"):format(tostring(conn:info().resumed)))
        conn:shutdown()
      end
      conn:close()
      client:close()
    end
  end
end

if arg[1] == "serve" then return serve(arg[2], arg[3], arg[4]) end

local cert, key, cafile = arg[1], arg[2], arg[3]
if not (cert and key and cafile) then
  io.stderr:write("usage: shared_tickets.lua CERT KEY CAFILE [--tls1.2]\n")
  os.exit(2)
end

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- the shared secret: 32 random bytes in a file only we can read
local secretfile = os.tmpname()
os.execute("chmod 600 " .. q(secretfile))
local f = assert(io.open(secretfile, "wb"))
f:write(wolfssl.random(32))
f:close()

-- start a server process; returns its pid and port
local lua = arg[-1] or "lua"
local function start(name)
  local log = os.tmpname()
  -- under io.popen, so closing the pipe after the kill waits for the server and reaps it
  local cmd = ("echo $$; exec %s %s serve %s %s %s%s >%s 2>&1"):format(q(lua), q(arg[0]), q(secretfile),
    q(cert), q(key), tls12 and " --tls1.2" or "", q(log))
  local p = io.popen(cmd)
  local pid = tonumber(p:read("*l"))
  local port, deadline = nil, socket.gettime() + 10
  repeat
    local lf = io.open(log, "rb")
    port = lf and lf:read("*a"):match("listening on 127%.0%.0%.1:(%d+)")
    if lf then lf:close() end
    if not port then socket.sleep(0.02) end
  until port or socket.gettime() > deadline
  os.remove(log)
  if not port then
    os.execute("kill " .. pid .. " 2>/dev/null")
    p:close()
    error("server " .. name .. " did not start")
  end
  return { name = name, pid = pid, port = tonumber(port), pipe = p }
end

local servers = {}
local ok, err = pcall(function()
  servers[1], servers[2] = start("A"), start("B")
  local ctx = assert(wolfssl.context({ role = "client", ca = cafile, max_version = version }))
  local session
  for _, s in ipairs(servers) do
    local tcp = assert(socket.connect("127.0.0.1", s.port))
    local conn = assert(ctx:connection({ server_name = "localhost", fd = tcp:getfd(), session = session }))
    conn:settimeout(10)
    assert(conn:handshake())
    local reply = conn:read() or ""
    print(("server %s: resumed=%s %s (the server says %s)"):format(s.name, tostring(conn:info().resumed),
      conn:info().version, reply:gsub("%s+$", "")))
    session = session or assert(conn:session(1))
    conn:close()
    tcp:close()
  end
end)
for _, s in ipairs(servers) do
  os.execute("kill " .. s.pid .. " 2>/dev/null")
  s.pipe:close()
end
os.remove(secretfile)
if not ok then
  io.stderr:write(tostring(err) .. "\n")
  os.exit(1)
end
io.stdout:flush()
