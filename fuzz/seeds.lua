-- Seed corpus for the fuzz targets, from real handshakes (`make fuzz` runs this):
--   lua5.4 fuzz/seeds.lua OUTDIR
-- makes OUTDIR/certs (a CA, an ECDSA and an RSA leaf, with the openssl CLI) and
-- OUTDIR/seeds/<target>/*: the bytes a client really sends (server, record), a server's
-- real flights (client), and certificates in PEM and DER (cert). Each input starts
-- with the option byte fuzz/targets.lua reads (version range, verify, chunking).
local wolfssl = require "wolfssl"

local out = assert(arg[1], "usage: seeds.lua OUTDIR")
local certs = out .. "/certs"

local function sh(cmd)
  local ok = os.execute(cmd .. " >/dev/null 2>&1")
  assert(ok == true or ok == 0, "failed: " .. cmd)
end

local function read(p)
  local f = assert(io.open(p, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function write(dir, name, data)
  sh("mkdir -p " .. dir)
  local f = assert(io.open(dir .. "/" .. name, "wb"))
  f:write(data)
  f:close()
end

-- certificates
sh("mkdir -p " .. certs)
local c = "cd " .. certs .. " && "
sh(c .. "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key")
sh(c .. "openssl req -x509 -new -key ca.key -out ca.pem -subj /CN=fuzz-ca -days 3650 -config /dev/null"
  .. " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign")
write(certs, "leaf.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
for _, k in ipairs({ "ec", "rsa" }) do
  if k == "ec" then sh(c .. "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key")
  else sh(c .. "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key") end
  sh(c .. ("openssl req -new -key %s.key -out %s.csr -subj /CN=localhost -config /dev/null"):format(k, k))
  sh(c .. ("openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out %s.pem -days 3650 -extfile leaf.ext"):format(k, k))
  sh(c .. ("openssl x509 -in %s.pem -outform DER -out %s.der"):format(k, k))
end

local seeds = out .. "/seeds"
for _, k in ipairs({ "ec", "rsa", "ca" }) do
  write(seeds .. "/cert", k .. ".pem", read(certs .. "/" .. k .. ".pem"))
  if k ~= "ca" then write(seeds .. "/cert", k .. ".der", read(certs .. "/" .. k .. ".der")) end
end

-- handshakes: option byte b = version index (0: 1.2-1.3, 1: 1.3, 2: 1.2), whole feeds
local configs = {
  { b = 0, min = "tls1.2", max = "tls1.3", name = "tls13" },
  { b = 1, min = "tls1.3", max = "tls1.3", name = "tls13only" },
  { b = 2, min = "tls1.2", max = "tls1.2", name = "tls12" },
  { b = 2 + 6, min = "tls1.2", max = "tls1.2", name = "tls12-bytewise" },
  { b = 1 + 12, min = "tls1.3", max = "tls1.3", name = "tls13-5byte" },
}
for _, cf in ipairs(configs) do
  local sctx = assert(wolfssl.context({ role = "server", certificate = certs .. "/ec.pem", key = certs .. "/ec.key",
    min_version = cf.min, max_version = cf.max }))
  local cctx = assert(wolfssl.context({ role = "client", ca = certs .. "/ca.pem", min_version = cf.min, max_version = cf.max }))
  local client = cctx:connection({ server_name = "localhost" })
  local server = sctx:connection()
  local from_client, from_server = {}, {}
  for _ = 1, 10 do
    client:handshake()
    local cb = client:take()
    if #cb > 0 then from_client[#from_client + 1] = cb; server:feed(cb) end
    server:handshake()
    local sb = server:take()
    if #sb > 0 then from_server[#from_server + 1] = sb; client:feed(sb) end
  end
  assert(client:handshake() and server:handshake(), "seed handshake failed")
  client:write("hello from the client"); server:feed(client:take()); server:read()
  server:write("hello from the server"); from_server[#from_server + 1] = server:take()
  from_client[#from_client + 1] = client:take()
  local opt = string.char(cf.b)
  write(seeds .. "/server", cf.name .. "-hello", opt .. from_client[1])
  write(seeds .. "/server", cf.name .. "-all", opt .. table.concat(from_client))
  write(seeds .. "/record", cf.name .. "-all", opt .. table.concat(from_client))
  write(seeds .. "/client", cf.name .. "-flight", opt .. from_server[1])
  write(seeds .. "/client", cf.name .. "-all", opt .. table.concat(from_server))
end
print("seeds in " .. seeds)
