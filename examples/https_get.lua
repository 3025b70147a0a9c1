-- https_get.lua URL [CAFILE]
--
-- A verified HTTPS GET over a LuaSocket TCP connection, with the binding doing TLS on
-- the socket's file descriptor. Prints the status line and what was negotiated.
--   lua5.4 examples/https_get.lua https://localhost:8443/ ca.pem
local socket = require "socket"
local wolfssl = require "wolfssl"

local url, cafile = arg[1], arg[2]
local host, port, path = (url or ""):match("^https://([^/:]+):?(%d*)(/?.*)$")
if not host then
  io.stderr:write("usage: https_get.lua https://host[:port]/path [CAFILE]\n")
  os.exit(2)
end
port = tonumber(port) or 443
path = path ~= "" and path or "/"

local function fail(what, err, code)
  io.stderr:write(("%s: %s (%s)\n"):format(what, tostring(err), tostring(code)))
  os.exit(1)
end

-- Secure by default: the system CA store (or CAFILE), and the host name is checked.
local ctx = assert(wolfssl.context({ role = "client", ca = cafile or "system", alpn = { "http/1.1" } }))

local tcp, err = socket.connect(host, port)
if not tcp then fail("connect", err, "io") end
local conn = assert(ctx:connection({ server_name = host, fd = tcp:getfd() }))
conn:settimeout(10)

local ok, herr, code = conn:handshake()
if not ok then fail("handshake", herr, code) end

local request = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: lua-wolfssl\r\nConnection: close\r\n\r\n")
  :format(path, host)
assert(conn:write(request))

local parts = {}
while true do
  local data, rerr, rcode = conn:read()
  if not data then
    -- "closed" is the peer's close_notify; some servers just drop the connection
    if rcode ~= "closed" and #parts == 0 then fail("read", rerr, rcode) end
    break
  end
  parts[#parts + 1] = data
end
local response = table.concat(parts)

local info = conn:info()
local cert = conn:peer_certificate()
print("status:  " .. (response:match("^([^\r\n]*)") or "(no response)"))
print("version: " .. info.version)
print("cipher:  " .. info.cipher)
print("group:   " .. tostring(info.group))
print("peer:    " .. (cert and tostring(cert:subject()) or "(none)"))
print("issuer:  " .. (cert and tostring(cert:issuer()) or "(none)"))
print("verified: " .. tostring(info.verified))
conn:close()
tcp:close()
