-- The badssl-like test PKI, made with wolfssl.pki once per run: a root, an
-- intermediate, and one server certificate per case, written as files that
-- `openssl s_server` can serve. Everything wolfSSL's certificate generation cannot
-- express is spliced in by pki.lua (validity windows, name constraints, an unknown
-- critical extension, SHA-1 signatures); nothing here needs the openssl CLI.
--
--   m.root / m.int / m.other_root        Authorities (pki.lua)
--   m.case(name) -> {cert = path, key = path, chain = path|nil, cn = "..."}
--   m.path(file), m.crls (PEM: the intermediate's CRL revoking "revoked", the root's)
local tmp = require "spec.helpers.tmp"
local pki = require "wolfssl.pki"

local M = {}
local DAY = 86400
local now = os.time()

local function path(name) return tmp.path("matrix-" .. name) end
M.path = path

M.root = pki.ca({ subject = "CN=Matrix Root,O=lua-wolfssl matrix", days = 60 })
M.int = M.root:intermediate({ subject = "CN=Matrix Intermediate,O=lua-wolfssl matrix", days = 60 })
M.rsa_root = pki.ca({ subject = "CN=Matrix RSA Root,O=lua-wolfssl matrix", key = pki.key("rsa", 2048), days = 60 })
M.other_root = pki.ca({ subject = "CN=Untrusted Root,O=someone else", days = 60 })
M.other_int = M.other_root:intermediate({ subject = "CN=Untrusted Intermediate,O=someone else" })
-- an intermediate that may only vouch for names under good.test
M.nc_int = M.root:intermediate({ subject = "CN=Constrained Intermediate,O=lua-wolfssl matrix",
  name_constraints = { permitted = { dns = { "good.test" } } } })
-- an intermediate whose key is below min_ec_bits
M.p224_int = M.root:intermediate({ subject = "CN=P-224 Intermediate,O=lua-wolfssl matrix",
  key = pki.key("ec", "P-224") })

pki.write(path("root.pem"), M.root:pem())
pki.write(path("rsa-root.pem"), M.rsa_root:pem())
pki.write(path("roots.pem"), M.root:pem() .. M.rsa_root:pem())

local cases = {}

-- issuer: an Authority; spec: pki.certificate fields; send_chain: the issuer chain the
-- server sends after its leaf (default: issuer:chain())
local function case(name, issuer, spec, send_chain)
  spec.subject = spec.subject or ("CN=" .. name .. ".test")
  if spec.dns == nil and spec.ip == nil then spec.dns = { name .. ".test" } end
  if spec.dns == false then spec.dns = nil end
  local cert, key
  if issuer then cert, key = issuer:issue(spec) else cert, key = pki.certificate(spec) end
  local pem = type(cert) == "string" and cert or cert:pem()
  local c = { cert = pki.write(path(name .. ".pem"), pem), key = pki.write(path(name .. ".key"), key:pem()),
    cn = spec.subject:match("CN=([^,]+)"), certificate = cert }
  local chain = send_chain
  if chain == nil and issuer then chain = issuer:chain() end
  if chain and #chain > 0 then
    local pems = {}
    for _, x in ipairs(chain) do pems[#pems + 1] = x:pem() end
    c.chain = pki.write(path(name .. "-chain.pem"), table.concat(pems))
  end
  cases[name] = c
  return c
end

case("good-ecdsa", M.int, {})
case("good-rsa", M.int, { key = pki.key("rsa", 2048) })
case("ipv4", M.int, { ip = { "127.0.0.1" }, dns = false })
case("ipv6", M.int, { ip = { "::1" }, dns = false })
case("expired", M.int, { not_before = now - 60 * DAY, not_after = now - DAY })
case("not-yet-valid", M.int, { not_before = now + DAY, not_after = now + 30 * DAY })
case("wrong-host", M.int, { dns = { "other.test" } })
case("self-signed", nil, { dns = { "self-signed.test" } })
case("untrusted-root", M.other_int, {})
case("missing-intermediate", M.int, {}, {})
case("revoked", M.int, {})
case("wrong-eku", M.int, { eku = { "clientAuth" } })
case("rsa-1024", M.int, { key = pki.key("rsa", 1024) })
-- SHA-1 needs an RSA issuer for openssl to load it at SECLEVEL=0 too; the root's
-- own signature does not matter (it is the trust anchor)
case("sha1", M.rsa_root, { hash = "sha1", key = pki.key("rsa", 2048) })
case("name-constraints", M.nc_int, { dns = { "name-constraints.test" } })
case("name-constraints-ok", M.nc_int, { subject = "CN=www.good.test", dns = { "www.good.test" } })
case("unknown-critical", M.int, { extensions = { { oid = "1.3.6.1.4.1.55555.1", critical = true,
  value = pki.der.utf8("must understand") } } })
case("cn-only", M.int, { dns = false })
case("weak-ca-key", M.p224_int, {})

-- CRLs for the whole chain: wolfSSL checks every CA once CRL checking is on
M.crls = M.int:crl({ revoked = { cases["revoked"].certificate } }) .. M.root:crl({})
pki.write(path("crls.pem"), M.crls)

-- OCSP responses for openssl s_server -status_file
pki.write(path("good-ecdsa.ocsp"), M.int:ocsp_response({ certificate = cases["good-ecdsa"].certificate }))
pki.write(path("revoked.ocsp"), M.int:ocsp_response({ certificate = cases["revoked"].certificate, status = "revoked" }))

-- a client certificate for the mTLS cases
local ccert, ckey = M.int:issue({ subject = "CN=matrix client", eku = { "clientAuth" } })
pki.write(path("client.pem"), ccert:pem() .. M.int:pem())
pki.write(path("client.key"), ckey:pem())

function M.case(name) return assert(cases[name], "no matrix case " .. name) end

return M
