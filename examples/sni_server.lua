-- sni_server.lua PORT NAME1 CERT1 KEY1 NAME2 CERT2 KEY2 [COUNT]
--
-- One TLS server on 127.0.0.1 with two certificates, chosen by the name the client asks
-- for (SNI). A client that names neither host gets the alert unrecognized_name. Each
-- client gets one line back ("hello from NAME") and is closed; after COUNT clients the
-- server exits (default: never). PORT 0 picks a free port; the first line printed says
-- which:  listening on 127.0.0.1:PORT
--   lua5.4 examples/sni_server.lua 8443 a.test a.pem a.key b.test b.pem b.key
local socket = require "socket"
local wolfssl = require "wolfssl"

local port, count = tonumber(arg[1]), tonumber(arg[8])
if not (port and arg[7]) then
  io.stderr:write("usage: sni_server.lua PORT NAME1 CERT1 KEY1 NAME2 CERT2 KEY2 [COUNT]\n")
  os.exit(2)
end

-- one context per host name, each with its own certificate
local sites = {}
for i = 2, 5, 3 do
  local ctx, err = wolfssl.context({ role = "server", certificate = arg[i + 1], key = arg[i + 2] })
  if not ctx then
    io.stderr:write(("cannot load %s: %s\n"):format(arg[i + 1], err))
    os.exit(1)
  end
  sites[arg[i]:lower()] = ctx
end

-- The front context has no certificate of its own: on_sni picks the site's context
-- before wolfSSL needs one. Returning false refuses the name (alert unrecognized_name).
local front = assert(wolfssl.context({
  role = "server",
  on_sni = function(conn, name)
    return name and sites[name:lower()] or false
  end,
}))

local listener = assert(socket.bind("127.0.0.1", port))
local _, bound = listener:getsockname()
print("listening on 127.0.0.1:" .. bound)
io.stdout:flush()

local served = 0
while not count or served < count do
  local client = listener:accept()
  if client then
    served = served + 1
    local conn = assert(front:connection({ fd = client:getfd() }))
    conn:settimeout(10)
    local ok, err, code = conn:handshake()
    if ok then
      local name = conn:server_name()
      print(("%s: %s, certificate for %s"):format(name, conn:info().version, name))
      conn:write("hello from " .. name .. "\n")
      conn:shutdown()
    else
      print(("refused: %s (%s)"):format(err, code))
    end
    io.stdout:flush()
    conn:close()
    client:close()
  end
end
listener:close()
