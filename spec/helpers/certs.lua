-- Certificates made at test time with wolfssl.pki (wolfSSL's own certificate
-- generation), once per run, in a private temporary directory. Names map to paths:
-- certs.path("ec.pem"), certs.read("ca.pem").
--
--   ca.pem / ca.key            test root (EC P-256)
--   other-ca.pem / .key        a root nobody trusts
--   ec.pem / ec.key            leaf, EC P-256:  DNS localhost, IP 127.0.0.1, IP ::1
--   rsa.pem / rsa.key          leaf, RSA 2048:  same names
--   wrong-host.pem / .key      leaf for DNS wrong.test only
--   untrusted.pem / .key       leaf issued by other-ca
--   client.pem / client.key    client certificate (clientAuth)
--   ec-enc.key                 ec.key encrypted, traditional PEM, password "secret"
--   ec-pk8.key                 ec.key encrypted, PKCS#8 (AES-256-CBC), password "secret"
--
-- M.ca / M.other_ca are the wolfssl.pki Authorities, for specs that issue more.
local tmp = require "spec.helpers.tmp"
local pki = require "wolfssl.pki"

local M = { dir = tmp.dir, password = "secret" }

local function p(name) return tmp.path(name) end
M.path = p
function M.read(name) return (assert(tmp.read(p(name)), "no such test file " .. name)) end

local function save(name, cert, key)
  tmp.write(name .. ".pem", cert:pem())
  tmp.write(name .. ".key", key:pem())
end

local function leaf(name, issuer, kind, cn, names, eku)
  local cert, key = issuer:issue({ subject = "CN=" .. cn, key = kind == "rsa" and pki.key("rsa", 2048) or pki.key(),
    dns = names and names.dns, ip = names and names.ip, eku = eku, days = 30 })
  save(name, cert, key)
  return cert, key
end

local function generate()
  -- subjects in the order `openssl req -subj /CN=.../O=...` writes them
  M.ca = pki.ca({ subject = "O=lua-wolfssl tests,CN=lua-wolfssl Test CA", days = 30 })
  M.other_ca = pki.ca({ subject = "O=lua-wolfssl tests,CN=Someone Else's CA", days = 30 })
  save("ca", M.ca.certificate, M.ca.key)
  save("other-ca", M.other_ca.certificate, M.other_ca.key)
  local names = { dns = { "localhost" }, ip = { "127.0.0.1", "::1" } }
  local _, ec_key = leaf("ec", M.ca, "ec", "localhost", names)
  leaf("rsa", M.ca, "rsa", "localhost", names)
  leaf("wrong-host", M.ca, "ec", "wrong.test", { dns = { "wrong.test" } })
  leaf("untrusted", M.other_ca, "ec", "localhost", names)
  leaf("client", M.ca, "ec", "test client", nil, { "clientAuth" })
  tmp.write("ec-enc.key", ec_key:pem({ format = "traditional", password = M.password }))
  tmp.write("ec-pk8.key", ec_key:pem({ password = M.password }))
end

generate()
return M
