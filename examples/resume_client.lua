-- resume_client.lua HOST PORT CAFILE [--tls1.2] [--session FILE]
--
-- Session resumption, seen from a client. Without --session: a full handshake, then a
-- second connection that resumes the first one's session; both handshake times are
-- printed. With --session FILE: one connection that offers the session saved in FILE
-- (if there is one), then saves the newest session there, so a second run (a new
-- process) resumes the first.
--   lua5.4 examples/resume_client.lua localhost 8443 ca.pem
--   handshake 1: resumed=false  3.1 ms  TLSv1.3  verified=true
--   handshake 2: resumed=true  0.9 ms  TLSv1.3  verified=true
-- (a resumed connection verifies no certificate: `verified` is the first handshake's,
-- which the session records, also in the file)
local socket = require "socket"
local wolfssl = require "wolfssl"

local host, port, cafile = arg[1], tonumber(arg[2]), arg[3]
local version, file = "tls1.3", nil
for i = 4, #arg do
  if arg[i] == "--tls1.2" then version = "tls1.2" end
  if arg[i] == "--session" then file = arg[i + 1] end
end
if not (host and port and cafile) then
  io.stderr:write("usage: resume_client.lua HOST PORT CAFILE [--tls1.2] [--session FILE]\n")
  os.exit(2)
end

local ctx = assert(wolfssl.context({ role = "client", ca = cafile, max_version = version }))

local function fail(what, err, code)
  io.stderr:write(("%s: %s (%s)\n"):format(what, tostring(err), tostring(code)))
  os.exit(1)
end

-- One connection: handshake (timed), one request and its answer, then the session to
-- keep. In TLS 1.3 the server sends its ticket after the handshake; session(1) waits up
-- to a second for it (it usually came with the answer already).
local function connect(n, session)
  local tcp, err = socket.connect(host, port)
  if not tcp then fail("connect", err, "io") end
  local conn = assert(ctx:connection({ server_name = host, fd = tcp:getfd(), session = session }))
  conn:settimeout(10)
  local t0 = socket.gettime()
  local ok, herr, code = conn:handshake()
  local ms = (socket.gettime() - t0) * 1000
  if not ok then fail("handshake " .. n, herr, code) end
  local info = conn:info()
  print(("handshake %d: resumed=%s  %.1f ms  %s  verified=%s%s"):format(n, tostring(info.resumed), ms, info.version,
    tostring(info.verified), info.verify_error and (" (" .. info.verify_error .. ")") or ""))
  conn:write("GET / HTTP/1.0\r\n\r\n")
  conn:read()
  local sess, serr, scode = conn:session(1)
  if not sess then fail("session", serr, scode) end
  conn:shutdown()
  conn:close()
  tcp:close()
  return sess
end

if file then
  local saved
  local f = io.open(file, "rb")
  if f then
    saved = assert(wolfssl.session(f:read("*a")))
    f:close()
  end
  local sess = connect(1, saved)
  f = assert(io.open(file, "wb"))
  f:write(sess:export()) -- the session's secrets: keep such a file private
  f:close()
else
  local sess = connect(1)
  connect(2, sess)
end
io.stdout:flush()
