-- demo.lua: what `make demo` runs.
--
-- Makes a throwaway CA and a certificate for localhost (wolfssl.pki, no openssl CLI),
-- starts examples/echo_server.lua with it, connects a client that verifies the server
-- against that CA, echoes a line, prints the handshake summary, and stops the server.
local socket = require "socket"
local wolfssl = require "wolfssl"
local pki = require "wolfssl.pki"

local lua = arg[-1] or "lua5.4"
local here = (arg[0]:match("^(.*)/[^/]*$") or ".")

local function read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

local p = io.popen("mktemp -d /tmp/lua-wolfssl-demo.XXXXXX")
local dir = p:read("*l")
p:close()
local function path(n) return dir .. "/" .. n end

print("lua-wolfssl demo (" .. wolfssl._VERSION .. ", wolfSSL " .. wolfssl.wolfssl_version .. ", " .. _VERSION .. ")")

-- 1. a throwaway PKI, made in process by wolfSSL's certificate generation: a CA, and a
--    server certificate for localhost issued by it
local ca = pki.ca({ subject = "CN=demo CA", days = 1 })
local cert, key = ca:issue({ subject = "CN=localhost", dns = { "localhost" }, ip = { "127.0.0.1" }, days = 1 })
pki.write(path("ca.pem"), ca:pem())
pki.write(path("server.pem"), cert:pem())
pki.write(path("server.key"), key:pem())
print("  made a throwaway CA and a certificate for localhost in " .. dir)

-- 2. the echo server, in its own process
local log = path("server.log")
-- under io.popen, so that closing the pipe at the end waits for the server and reaps it
local pp = io.popen(("exec sh -c 'echo $$; exec %s %s/echo_server.lua %s %s 0 --once >%s 2>&1'")
  :format(lua, here, path("server.pem"), path("server.key"), log))
local pid = tonumber(pp:read("*l"))
local port
local deadline = socket.gettime() + 10
repeat
  port = read(log):match("listening on 127%.0%.0%.1:(%d+)")
  if not port then socket.sleep(0.05) end
until port or socket.gettime() > deadline
local function stop()
  os.execute("kill " .. pid .. " 2>/dev/null")
  pp:close()
end
if not port then
  stop()
  error("the echo server did not start:\n" .. read(log))
end
print(("  started examples/echo_server.lua (pid %d) on 127.0.0.1:%s"):format(pid, port))

-- 3. a client that trusts only the throwaway CA and checks the name "localhost"
local ctx = assert(wolfssl.context({ role = "client", ca = path("ca.pem") }))
local tcp = assert(socket.connect("127.0.0.1", tonumber(port)))
local conn = assert(ctx:connection({ server_name = "localhost", fd = tcp:getfd() }))
conn:settimeout(10)
local ok, err, code = conn:handshake()
if not ok then
  stop()
  error(("handshake failed: %s (%s)"):format(err, code))
end
local message = "hello, TLS"
conn:write(message)
local echoed = ""
while #echoed < #message do
  local data, rerr = conn:read()
  if not data then stop(); error("read failed: " .. rerr) end
  echoed = echoed .. data
end

local info = conn:info()
local cert = conn:peer_certificate()
print("handshake summary")
print("  version   " .. info.version)
print("  cipher    " .. info.cipher)
print("  group     " .. tostring(info.group))
print("  peer      " .. tostring(cert:subject()))
print("  issuer    " .. tostring(cert:issuer()))
print("  verified  " .. tostring(info.verified))
print(("  sent %q, echoed %q"):format(message, echoed))
conn:shutdown()
conn:close()
tcp:close()

-- 4. done: the server exits after one client (--once); make sure it has
deadline = socket.gettime() + 5
local function alive() -- running and not a zombie
  local st = read("/proc/" .. pid .. "/stat"):match("^%d+ %b() (%a)")
  return st ~= nil and st ~= "Z"
end
while socket.gettime() < deadline and alive() do socket.sleep(0.05) end
stop()
os.execute("rm -rf " .. dir)
print("  stopped the echo server")
if echoed ~= message then os.exit(1) end
