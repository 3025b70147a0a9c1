-- echo_server.lua CERT KEY [PORT] [--once]
--
-- A TLS echo server on 127.0.0.1: everything a client sends comes back. One client at a
-- time; --once exits after the first. PORT 0 (the default) picks a free port, and the
-- first line printed says which:  listening on 127.0.0.1:PORT
local socket = require "socket"
local wolfssl = require "wolfssl"

local cert, key, port, once = arg[1], arg[2], tonumber(arg[3]) or 0, false
for _, a in ipairs(arg) do if a == "--once" then once = true end end
if not (cert and key) then
  io.stderr:write("usage: echo_server.lua CERT KEY [PORT] [--once]\n")
  os.exit(2)
end

local ctx, err = wolfssl.context({ role = "server", certificate = cert, key = key })
if not ctx then
  io.stderr:write("cannot load the certificate: " .. err .. "\n")
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
    print(("handshake failed: %s (%s)"):format(herr, code))
    return
  end
  local info = conn:info()
  print(("client connected: %s %s"):format(info.version, info.cipher))
  io.stdout:flush()
  while true do
    local data, rerr, rcode = conn:read()
    if not data then
      if rcode ~= "closed" then print("read: " .. rerr) end
      break
    end
    local sent, werr = conn:write(data)
    if not sent then print("write: " .. werr) break end
  end
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
