-- The fuzz targets, driven by fuzz/harness.c: each gets one input as a string and must
-- return normally whatever the bytes are (run-time failures are nil, message, code;
-- a Lua error escaping here is a finding). Contexts are made once per process.
--
-- The first input byte picks options (TLS version range, verification, how the rest is
-- cut into feed() calls), so one corpus explores partial records too.
local wolfssl = require "wolfssl"

local CERTS = os.getenv("FUZZ_CERTS") or "build/fuzz/certs"
local function path(name) return CERTS .. "/" .. name end

local VERSIONS = { { "tls1.2", "tls1.3" }, { "tls1.3", "tls1.3" }, { "tls1.2", "tls1.2" } }
local CODES = {
  wantread = true, closed = true, alert = true, handshake_failed = true, bad_input = true,
  verify_failed = true, callback = true,
}

local contexts = {}
local function ctx(role, v, verify)
  local key = role .. v .. tostring(verify)
  if not contexts[key] then
    local t = { role = role, min_version = VERSIONS[v][1], max_version = VERSIONS[v][2] }
    if role == "server" then
      t.certificate, t.key = path("ec.pem"), path("ec.key")
      if verify then t.verify, t.ca = "peer", path("ca.pem") end
    else
      t.ca = path("ca.pem")
      if not verify then t.verify = "none" end
    end
    contexts[key] = assert(wolfssl.context(t))
  end
  return contexts[key]
end

local function options(data)
  local b = data:byte(1) or 0
  local v = b % 3 + 1
  local verify = math.floor(b / 3) % 2 == 1
  local chunk = ({ 0, 1, 5, 7, 64, 300, 4096, 0 })[math.floor(b / 6) % 8 + 1]
  return v, verify, chunk, data:sub(2)
end

-- feed `bytes` in pieces of `chunk` (0: all at once), calling step() after each piece
local function trickle(conn, bytes, chunk, step)
  if chunk == 0 then chunk = #bytes end
  if chunk == 0 then return step() end
  for i = 1, #bytes, chunk do
    conn:feed(bytes:sub(i, i + chunk - 1))
    if not step() then return end
  end
end

-- one handshake step, then whatever application data there is; false once failed
local function step(conn)
  local ok, err, code = conn:handshake()
  if not ok then
    assert(CODES[code], tostring(code) .. ": " .. tostring(err))
    if code ~= "wantread" then return false end
  end
  if ok then
    for _ = 1, 4 do
      local s, rerr, rcode = conn:read()
      if not s then
        assert(CODES[rcode], tostring(rcode) .. ": " .. tostring(rerr))
        break
      end
    end
    conn:write("pong")
  end
  conn:take()
  return true
end

local T = {}

-- bytes from a "client" into a server connection
function T.server(data)
  local v, verify, chunk, bytes = options(data)
  local conn = ctx("server", v, verify):connection()
  trickle(conn, bytes, chunk, function() return step(conn) end)
  conn:feed_eof()
  step(conn)
  conn:close()
end

-- a client that sent its ClientHello, then gets bytes from a "server"
function T.client(data)
  local v, verify, chunk, bytes = options(data)
  local conn = ctx("client", v, verify):connection({ server_name = "localhost" })
  step(conn)
  trickle(conn, bytes, chunk, function() return step(conn) end)
  conn:close()
end

-- the certificate parser: DER or PEM, then every accessor
function T.cert(data)
  local cert = wolfssl.certificate(data)
  if not cert then return end
  for name, fn in pairs(wolfssl.Certificate) do
    if type(fn) == "function" and name ~= "check_host" and not name:find("^__") then
      pcall(fn, cert) -- accessors may reject odd certificates with an error, never crash
    end
  end
  tostring(cert:subject())
  tostring(cert:issuer())
  assert(wolfssl.certificate(cert:der()) == cert)
end

-- The record/message splitter of the trace (record.c): with on_message set, every byte a
-- server connection receives is split into records and messages (and opened when
-- encrypted) and each message goes through trace.decode. Should on_message ever be
-- missing, the target still runs the server path.
local ok_trace, trace = pcall(require, "wolfssl.trace")
local decode = ok_trace and trace.decode
local traced = {}
function T.record(data)
  local v, _, chunk, bytes = options(data)
  if wolfssl._handlers.on_message and not traced[v] then
    ctx("server", v, false):on("on_message", function(_, m)
      if decode then pcall(decode, m) end -- a message it cannot decode may raise; a crash may not
    end)
    traced[v] = true
  end
  local conn = ctx("server", v, false):connection()
  trickle(conn, bytes, chunk, function() return step(conn) end)
  conn:close()
end

return T
