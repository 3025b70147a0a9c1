-- Certificates made at test time with the openssl CLI, once per run, in a private
-- temporary directory. Names map to paths: certs.path("ec.pem"), certs.read("ca.pem").
--
--   ca.pem / ca.key            test root (EC P-256)
--   other-ca.pem               a root nobody trusts
--   ec.pem / ec.key            leaf, EC P-256:  DNS localhost, IP 127.0.0.1, IP ::1
--   rsa.pem / rsa.key          leaf, RSA 2048:  same names
--   wrong-host.pem / .key      leaf for DNS wrong.test only
--   untrusted.pem / .key       leaf issued by other-ca
--   client.pem / client.key    client certificate (clientAuth)
--   ec-enc.key                 ec.key encrypted, traditional PEM, password "secret"
--   ec-pk8.key                 ec.key encrypted, PKCS#8 (AES-256-CBC), password "secret"
local tmp = require "spec.helpers.tmp"

local M = { dir = tmp.dir, password = "secret" }

local q = tmp.quote
local function p(name) return tmp.path(name) end
M.path = p
function M.read(name) return (assert(tmp.read(p(name)), "no such test file " .. name)) end

local function ext_file(name, lines)
  return tmp.write(name .. ".ext", table.concat(lines, "\n") .. "\n")
end

local function key(name, kind)
  if kind == "rsa" then
    tmp.run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " .. q(p(name .. ".key")))
  else
    tmp.run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " .. q(p(name .. ".key")))
  end
end

local function root(name, cn)
  key(name, "ec")
  tmp.run(("openssl req -x509 -new -key %s -out %s -subj %s -days 30 -sha256 -config /dev/null"
    .. " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
    .. " -addext subjectKeyIdentifier=hash")
    :format(q(p(name .. ".key")), q(p(name .. ".pem")), q("/CN=" .. cn .. "/O=lua-wolfssl tests")))
end

local function leaf(name, kind, cn, sans, issuer, eku)
  key(name, kind)
  tmp.run(("openssl req -new -key %s -out %s -subj %s -config /dev/null")
    :format(q(p(name .. ".key")), q(p(name .. ".csr")), q("/CN=" .. cn)))
  local ext = ext_file(name, {
    "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage=" .. (eku or "serverAuth"),
    sans and ("subjectAltName=" .. sans) or nil,
  })
  tmp.run(("openssl x509 -req -in %s -CA %s -CAkey %s -CAcreateserial -out %s -days 30 -sha256 -extfile %s")
    :format(q(p(name .. ".csr")), q(p(issuer .. ".pem")), q(p(issuer .. ".key")),
      q(p(name .. ".pem")), q(ext)))
end

local function generate()
  root("ca", "lua-wolfssl Test CA")
  root("other-ca", "Someone Else's CA")
  local names = "DNS:localhost,IP:127.0.0.1,IP:::1"
  leaf("ec", "ec", "localhost", names, "ca")
  leaf("rsa", "rsa", "localhost", names, "ca")
  leaf("wrong-host", "ec", "wrong.test", "DNS:wrong.test", "ca")
  leaf("untrusted", "ec", "localhost", names, "other-ca")
  leaf("client", "ec", "test client", nil, "ca", "clientAuth")
  tmp.run(("openssl ec -in %s -aes256 -passout pass:%s -out %s")
    :format(q(p("ec.key")), M.password, q(p("ec-enc.key"))))
  tmp.run(("openssl pkcs8 -topk8 -v2 aes-256-cbc -in %s -passout pass:%s -out %s")
    :format(q(p("ec.key")), M.password, q(p("ec-pk8.key"))))
end

generate()
return M
