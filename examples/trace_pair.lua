-- trace_pair.lua: both sides of three in-memory handshakes, message by message.
--
--   lua examples/trace_pair.lua
--
-- A client and a server talk through memory (wolfssl.pair). Each side's on_message sees
-- every record it sends and receives; the encrypted handshake messages are opened with
-- the connection's own keys, so both views show the whole exchange: a full TLS 1.3
-- handshake, one with a client certificate (mutual TLS), and a resumed one.
local wolfssl = require "wolfssl"
local trace = wolfssl.trace

-- a throwaway CA, a server certificate for localhost and a client certificate
local p = io.popen("mktemp -d /tmp/lua-wolfssl-trace-pair.XXXXXX")
local dir = p:read("*l")
p:close()
local function path(n) return dir .. "/" .. n end
local function sh(cmd)
  local ok = os.execute(cmd .. " >/dev/null 2>&1")
  if ok ~= true and ok ~= 0 then error("failed: " .. cmd) end
end
local function issue(name, cn, eku)
  sh(("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=%s' -keyout %s -out %s")
    :format(cn, path(name .. ".key"), path(name .. ".csr")))
  local f = assert(io.open(path(name .. ".ext"), "w"))
  f:write("subjectAltName=DNS:localhost\nextendedKeyUsage=" .. eku .. "\n")
  f:close()
  sh(("openssl x509 -req -in %s -CA %s -CAkey %s -CAcreateserial -days 1 -extfile %s -out %s")
    :format(path(name .. ".csr"), path("ca.pem"), path("ca.key"), path(name .. ".ext"), path(name .. ".pem")))
end
sh(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj '/CN=trace-pair CA'"
  .. " -keyout %s -out %s"):format(path("ca.key"), path("ca.pem")))
issue("server", "localhost", "serverAuth")
issue("client", "trace-pair client", "clientAuth")

local client_ctx = assert(wolfssl.context{ role = "client", ca = path("ca.pem") })
local mutual_client = assert(wolfssl.context{ role = "client", ca = path("ca.pem"),
  certificate = path("client.pem"), key = path("client.key") })
local server_ctx = assert(wolfssl.context{ role = "server", certificate = path("server.pem"), key = path("server.key") })
local mutual_server = assert(wolfssl.context{ role = "server", certificate = path("server.pem"),
  key = path("server.key"), verify = "required", ca = path("ca.pem") })

-- One handshake; returns the pair and what each side saw.
local function run(title, cctx, sctx, resume_from)
  -- resumed: the client offers the session its earlier connection got
  local c = cctx:connection{ server_name = "localhost", session = resume_from and resume_from:session() }
  local s = sctx:connection()
  local client_view, server_view = trace.attach(c), trace.attach(s)
  local pair = setmetatable({ client = c, server = s }, require("wolfssl.pair").Pair)
  assert(pair:handshake())
  assert(pair:transfer("client", "hello") == "hello")
  assert(pair:transfer("server", "hello back") == "hello back") -- the client reads the ticket
  local info = c:info()
  print(("== %s: %s %s %s%s"):format(title, info.version, info.cipher, info.group, info.resumed and ", resumed" or ""))
  print("-- the client's view")
  io.write(trace.ladder(client_view))
  print("-- the server's view")
  io.write(trace.ladder(server_view))
  print()
  return pair
end

local first = run("full handshake", client_ctx, server_ctx)
run("mutual TLS", mutual_client, mutual_server)
run("resumed", client_ctx, server_ctx, first.client)

os.execute("rm -rf " .. dir)
