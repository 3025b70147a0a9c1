-- mtls_client.lua HOST PORT CA CERT KEY [SERVER_NAME]
--
-- A client that verifies the server against CA and proves who it is with its own
-- certificate and key (mutual TLS); prints what the server says.
--   lua5.4 examples/mtls_client.lua 127.0.0.1 8443 ca.pem client.pem client.key localhost
local socket = require "socket"
local wolfssl = require "wolfssl"

local host, port, ca, cert, key, server_name = arg[1], tonumber(arg[2] or ""), arg[3], arg[4], arg[5], arg[6]
if not (host and port and ca and cert and key) then
  io.stderr:write("usage: mtls_client.lua HOST PORT CA CERT KEY [SERVER_NAME]\n")
  os.exit(2)
end

local ctx, err = wolfssl.context({ role = "client", ca = ca, certificate = cert, key = key })
if not ctx then
  io.stderr:write("cannot set up the client: " .. err .. "\n")
  os.exit(1)
end

local tcp = assert(socket.connect(host, port))
local conn = assert(ctx:connection({ server_name = server_name or host, fd = tcp:getfd() }))
conn:settimeout(10)
local ok, herr, code = conn:handshake()
if not ok then
  print(("handshake failed: %s (%s)"):format(herr, code))
  os.exit(1)
end
print("server: " .. tostring(conn:peer_certificate():subject()) .. ", verified " .. tostring(conn:info().verified))
local reply, rerr, rcode = conn:read()
if not reply then
  -- TLS 1.3: a server that rejects our certificate says so after the handshake
  print(("refused: %s (%s)"):format(rerr, rcode))
  os.exit(1)
end
io.write("server says: ", reply)
conn:close()
tcp:close()
