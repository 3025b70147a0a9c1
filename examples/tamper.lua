-- tamper.lua [CERT KEY CA]
--
-- A scripted man in the middle: a client and a server wired together in memory with
-- wolfssl.pair, and a hook that sees every flight of bytes between them. It flips one
-- bit of the server's Finished message (the last record of the server's flight that
-- carries it) and shows what each side then reports: the client detects the tampering,
-- sends the alert bad_record_mac and fails with code "bad_input"; the server receives
-- that alert and fails with code "alert".
--
-- Without arguments it makes a throwaway self-signed certificate for localhost with the
-- openssl command line tool.
--   lua5.4 examples/tamper.lua
local wolfssl = require "wolfssl"
local pair = require "wolfssl.pair"

local cert, key, ca = arg[1], arg[2], arg[3]
if not cert then
  local p = io.popen("mktemp -d /tmp/lua-wolfssl-tamper.XXXXXX")
  local dir = p:read("*l")
  p:close()
  cert, key = dir .. "/cert.pem", dir .. "/key.pem"
  local ok = os.execute(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1"
    .. " -subj /CN=localhost -addext subjectAltName=DNS:localhost -keyout %s -out %s >/dev/null 2>&1")
    :format(key, cert))
  if ok ~= true and ok ~= 0 then error("openssl failed to make a certificate") end
  -- the files are read now, so the directory can go at once
  local server_ctx = assert(wolfssl.context({ role = "server", certificate = cert, key = key }))
  local cert_pem = assert(wolfssl.certificate(assert(io.open(cert, "rb")):read("*a"))):pem()
  os.execute("rm -rf " .. dir)
  cert, key, ca = server_ctx, nil, cert_pem
end

local server_ctx = type(cert) == "userdata" and cert
  or assert(wolfssl.context({ role = "server", certificate = cert, key = key }))

-- One bit of the last record of a flight, counted from its end (inside the Finished).
local function flip_last_record(bytes)
  local records, rest = pair.records(bytes)
  local last = records[#records]
  local i = #last.payload - 20
  last.payload = last.payload:sub(1, i - 1) .. string.char((last.payload:byte(i) + 1) % 256)
    .. last.payload:sub(i + 1)
  return pair.join(records) .. rest
end

local function describe_flight(f)
  local names = {}
  for _, r in ipairs((f:records())) do names[#names + 1] = ("%s(%d)"):format(r.name, r.length) end
  return table.concat(names, " ")
end

for _, version in ipairs({ "tls1.3", "tls1.2" }) do
  local client_ctx = assert(wolfssl.context({ role = "client", ca = ca or cert,
    min_version = version, max_version = version }))
  -- TLS 1.3: the server's Finished ends its first flight (encrypted with the handshake
  -- keys). TLS 1.2: it ends the server's second flight, after ChangeCipherSpec.
  local target = version == "tls1.3" and 1 or 2
  print(("%s: flipping one bit of the server's Finished"):format(version == "tls1.3" and "TLS 1.3" or "TLS 1.2"))
  local p, err, code, side, failed = wolfssl.pair(client_ctx, server_ctx, {
    server_name = "localhost",
    hook = function(f)
      local tampered = f.from == "server" and f.seq == target
      print(("  %-6s -> %-6s flight %d: %s%s"):format(f.from, f.to, f.n, describe_flight(f),
        tampered and "   <- tampered" or ""))
      if tampered then return flip_last_record(f.bytes) end
    end,
  })
  if p then
    print("  the handshake succeeded: the tampering went unnoticed (this must not happen)")
    os.exit(1)
  end
  print(("  %s failed first: %s [%s]"):format(side, err, code))
  for _, who in ipairs({ "client", "server" }) do
    local e = failed.errors[who]
    if e then print(("  %-6s saw: %s [%s]"):format(who, e[1], e[2])) end
  end
  failed:close()
end
