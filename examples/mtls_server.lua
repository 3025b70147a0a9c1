-- mtls_server.lua CERT KEY CA [PORT] [--once]
--
-- A TLS server on 127.0.0.1 that only talks to clients presenting a certificate issued
-- by CA (mutual TLS, verify = "required"). It greets each client by the name in its
-- certificate. PORT 0 (the default) picks a free port; the first line printed says
-- which:  listening on 127.0.0.1:PORT
local socket = require "socket"
local wolfssl = require "wolfssl"

local cert, key, ca, port, once = arg[1], arg[2], arg[3], tonumber(arg[4]) or 0, false
for _, a in ipairs(arg) do if a == "--once" then once = true end end
if not (cert and key and ca) then
  io.stderr:write("usage: mtls_server.lua CERT KEY CA [PORT] [--once]\n")
  os.exit(2)
end

local ctx, err = wolfssl.context({ role = "server", certificate = cert, key = key,
  ca = ca, verify = "required" })
if not ctx then
  io.stderr:write("cannot set up the server: " .. err .. "\n")
  os.exit(1)
end

local listener = assert(socket.bind("127.0.0.1", port))
local _, bound = listener:getsockname()
print("listening on 127.0.0.1:" .. bound)
io.stdout:flush()

local function serve(client)
  local conn = assert(ctx:connection({ fd = client:getfd() }))
  conn:settimeout(30)
  local ok, herr, code = conn:handshake()
  if not ok then
    print(("refused a client: %s (%s)"):format(herr, code))
    io.stdout:flush()
    return
  end
  local peer = conn:peer_certificate()
  local cn = "?"
  for _, e in ipairs(peer:subject()) do if e.name == "CN" then cn = e.value end end
  print(("client %s (verified %s, issued by %s)"):format(tostring(peer:subject()),
    tostring(conn:info().verified), tostring(peer:issuer())))
  io.stdout:flush()
  conn:write("hello " .. cn .. "\n")
  conn:shutdown()
  conn:close()
end

repeat
  local client = listener:accept()
  if client then
    serve(client)
    client:close()
  end
until once
listener:close()
