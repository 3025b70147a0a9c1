-- A badssl-like matrix: a client with DEFAULT settings (plus the test root as its CA)
-- against real `openssl s_server` peers, each serving one kind of good or bad
-- certificate. Every good case is accepted; every bad one is rejected with
-- verify_failed and a message naming the reason and the certificate.
local socket = require "socket"
local wolfssl = require "wolfssl"
local peer = require "spec.helpers.peer"
local tmp = require "spec.helpers.tmp"
local m = require "spec.helpers.matrix_pki"

local q = tmp.quote

-- openssl 3 refuses to even load a SHA-1 signed or RSA-1024 certificate at its default
-- security level; the server's leniency is what lets the client's policy be tested
local SERVER_ARGS = "-rev -cipher DEFAULT@SECLEVEL=0"

local function serve(name, extra)
  local c = m.case(name)
  local args = SERVER_ARGS .. (c.chain and (" -cert_chain " .. q(c.chain)) or "") .. (extra or "")
  return peer.s_server({ cert = c.cert, key = c.key, args = args })
end

-- Handshake (fd transport) with a client context made of `opts` on top of the
-- defaults; on success, prove the connection works by a round trip through -rev.
local function connect(server, opts, server_name)
  local o = { role = "client", ca = m.path("roots.pem") }
  for k, v in pairs(opts or {}) do o[k] = v end
  local ctx = assert(wolfssl.context(o))
  local sock = assert(socket.connect("127.0.0.1", server.port))
  local conn = assert(ctx:connection({ server_name = server_name, fd = sock:getfd() }))
  conn:settimeout(5)
  local ok, err, code = conn:handshake()
  local reply
  if ok then
    conn:write("matrix\n")
    local parts = {}
    repeat
      local d, rerr, rcode = conn:read()
      if not d then err, code = rerr, rcode break end
      parts[#parts + 1] = d
    until table.concat(parts):find("\n")
    reply = table.concat(parts)
  end
  local info = conn:info()
  conn:close()
  sock:close()
  return ok, err, code, info, reply, conn
end

local ACCEPT = {
  { "good-ecdsa", "good ECDSA leaf behind an intermediate", "good-ecdsa.test" },
  { "good-rsa", "good RSA leaf behind an intermediate", "good-rsa.test" },
  { "ipv4", "IPv4 address in an iPAddress SAN", "127.0.0.1" },
  { "ipv6", "IPv6 address in an iPAddress SAN", "::1" },
  { "name-constraints-ok", "leaf inside its CA's name constraints", "www.good.test" },
}

local REJECT = {
  { "expired", "an expired leaf", "certificate has expired (depth 0, CN=expired.test) (sent alert certificate_expired)" },
  { "not-yet-valid", "a leaf not yet valid",
    "certificate is not yet valid (depth 0, CN=not-yet-valid.test) (sent alert certificate_expired)" },
  { "wrong-host", "a leaf for another host",
    "hostname mismatch (depth 0, CN=wrong-host.test) (sent alert bad_certificate)" },
  { "self-signed", "a self-signed leaf",
    "self-signed certificate (depth 0, CN=self-signed.test) (sent alert bad_certificate)" },
  { "untrusted-root", "a chain to an untrusted root",
    "unable to get local issuer certificate (depth 0, CN=untrusted-root.test) (sent alert unknown_ca)" },
  { "missing-intermediate", "a leaf sent without its intermediate",
    "unable to get local issuer certificate (depth 0, CN=missing-intermediate.test) (sent alert unknown_ca)" },
  { "wrong-eku", "a leaf whose extendedKeyUsage lacks serverAuth",
    "unsupported certificate purpose: extendedKeyUsage lacks serverAuth (check_eku = true) "
      .. "(depth 0, CN=wrong-eku.test) (sent alert bad_certificate)" },
  { "rsa-1024", "an RSA-1024 leaf",
    "certificate key too weak: RSA 1024 bits < min_rsa_bits 2048 (depth 0, CN=rsa-1024.test) (sent alert bad_certificate)" },
  { "sha1", "a SHA-1 signed leaf",
    "signature digest too weak: sha1WithRSAEncryption (allow_sha1 = false) (depth 0, CN=sha1.test) (sent alert bad_certificate)" },
  { "name-constraints", "a leaf outside its CA's name constraints",
    "name constraints violation: an issuing CA may not vouch for this name (check_name_constraints = true) "
      .. "(depth 0, CN=name-constraints.test) (sent alert bad_certificate)" },
  { "cn-only", "a leaf naming its host only in the CN",
    "hostname mismatch: no subjectAltName, and the CN is not matched (allow_cn_match = false) "
      .. "(depth 0, CN=cn-only.test) (sent alert bad_certificate)" },
  { "weak-ca-key", "an intermediate with a P-224 key",
    "CA certificate key too weak: EC 224 bits < min_ec_bits 256 (depth 1, CN=P-224 Intermediate,O=lua-wolfssl matrix) (sent alert bad_certificate)" },
  -- wolfSSL refuses such a certificate while parsing it, before any verify callback
  -- and without sending an alert, so which certificate it was cannot be named
  { "unknown-critical", "a leaf with an unknown critical extension",
    "unhandled critical extension (in a certificate of the peer's chain, which wolfSSL refuses to parse)" },
}

describe("the default client against the badssl-like matrix (openssl s_server)", function()
  local server
  after_each(function() peer.stop(server) end)

  for _, t in ipairs(ACCEPT) do
    it("accepts a " .. t[2], function()
      server = serve(t[1])
      local ok, err, code, info, reply = connect(server, nil, t[3])
      assert.is_true(ok, err)
      assert.equal("xirtam\n", reply)
      assert.is_true(info.verified)
      assert.is_nil(info.verify_error, code)
    end)
  end

  for _, t in ipairs(REJECT) do
    it("rejects " .. t[2] .. ", naming the reason and the certificate", function()
      server = serve(t[1])
      local ok, err, code, info = connect(server, nil, t[1] .. ".test")
      assert.is_nil(ok)
      assert.equal("verify_failed", code)
      assert.equal("certificate verify failed: " .. t[3], err)
      assert.is_false(info.verified)
      assert.is_string(info.verify_error)
    end)
  end

  it("rejects a revoked leaf when given the CRLs, and still accepts a good one", function()
    server = serve("revoked")
    local ok, err, code, info = connect(server, { crl = m.path("crls.pem") }, "revoked.test")
    assert.is_nil(ok)
    assert.equal("verify_failed", code)
    assert.equal("certificate verify failed: certificate revoked (depth 0, CN=revoked.test) (sent alert certificate_revoked)", err)
    assert.equal("cert_revoked", info.verify_error)
    peer.stop(server)
    server = serve("good-ecdsa")
    ok, err = connect(server, { crl = m.path("crls.pem") }, "good-ecdsa.test")
    assert.is_true(ok, err)
  end)

  it("checks the OCSP response openssl s_server staples (-status_file)", function()
    server = serve("good-ecdsa", " -status_file " .. q(m.path("good-ecdsa.ocsp")))
    local ok, err, _, info = connect(server, { ocsp_stapling = "required" }, "good-ecdsa.test")
    assert.is_true(ok, err)
    assert.is_true(info.verified)
    peer.stop(server)
    server = serve("revoked", " -status_file " .. q(m.path("revoked.ocsp")))
    local code
    ok, err, code = connect(server, { ocsp_stapling = true }, "revoked.test")
    assert.is_nil(ok)
    assert.equal("verify_failed", code)
    assert.equal("certificate verify failed: certificate revoked (stapled OCSP response) (depth 0, CN=revoked.test)", err)
  end)

  it("requires a staple from a server that sends none, when told to", function()
    server = serve("good-ecdsa")
    local ok, err, code = connect(server, { ocsp_stapling = "required" }, "good-ecdsa.test")
    assert.is_nil(ok)
    assert.equal("verify_failed", code)
    assert.matches("no valid OCSP response was stapled", err, 1, true)
  end)

  it("accepts the revoked leaf without CRLs: revocation is opt-in", function()
    server = serve("revoked")
    assert.is_true((connect(server, nil, "revoked.test")))
  end)

  it("fails closed when CRL checking is on but a CA has no CRL", function()
    server = serve("good-ecdsa")
    local ok, err, code = connect(server, { crl = m.int:crl({}) }, "good-ecdsa.test")
    assert.is_nil(ok)
    assert.equal("verify_failed", code)
    assert.matches("unable to get certificate CRL (depth 1, CN=Matrix Intermediate,O=lua-wolfssl matrix)", err, 1, true)
  end)
end)

describe("policy options relax one check each", function()
  local server
  after_each(function() peer.stop(server) end)

  local RELAX = {
    { "wrong-eku", { check_eku = false } },
    { "rsa-1024", { min_rsa_bits = 1024 } },
    { "sha1", { allow_sha1 = true } },
    { "name-constraints", { check_name_constraints = false } },
    { "cn-only", { allow_cn_match = true } },
    { "weak-ca-key", { min_ec_bits = 224 } },
  }
  for _, t in ipairs(RELAX) do
    local name, opt = next(t[2])
    it(("accepts %s with %s = %s"):format(t[1], name, tostring(opt)), function()
      server = serve(t[1])
      local ok, err, _, info = connect(server, t[2], t[1] .. ".test")
      assert.is_true(ok, err)
      assert.is_true(info.verified)
    end)
  end

  it("still rejects the other weaknesses when one is relaxed", function()
    server = serve("rsa-1024")
    local ok, err = connect(server, { allow_sha1 = true, allow_cn_match = true }, "rsa-1024.test")
    assert.is_nil(ok)
    assert.matches("RSA 1024 bits < min_rsa_bits 2048", err, 1, true)
  end)
end)

describe("on_verify overrides the default verdict (openssl s_server)", function()
  local server
  after_each(function() peer.stop(server) end)

  it("can accept an expired certificate, which then does not count as verified", function()
    server = serve("expired")
    local seen = {}
    local ok, err, _, info = connect(server, { on_verify = function(_, v)
      seen[#seen + 1] = v
      if v.error == "cert_has_expired" then return true end
    end }, "expired.test")
    assert.is_true(ok, err)
    assert.is_false(info.verified)
    assert.equal("cert_has_expired", info.verify_error)
    -- called for the intermediate, then the leaf, with the chain leaf first
    assert.equal(2, #seen)
    assert.same({ 1, 0 }, { seen[1].depth, seen[2].depth })
    assert.is_true(seen[1].ok)
    assert.is_false(seen[2].ok)
    assert.equal("certificate has expired", seen[2].message)
    assert.equal("CN=expired.test", tostring(seen[2].certificate:subject()))
    assert.equal("CN=Matrix Intermediate,O=lua-wolfssl matrix", tostring(seen[1].certificate:subject()))
    assert.equal(3, #seen[2].chain)
    assert.equal(seen[2].certificate, seen[2].chain[1])
    assert.equal(m.root.certificate, seen[2].chain[3])
  end)

  it("can reject a good certificate with a reason the server hears as bad_certificate", function()
    server = serve("good-ecdsa")
    local ok, err, code = connect(server, { on_verify = function(_, v)
      if v.depth == 0 then return false, "not the pinned key" end
    end }, "good-ecdsa.test")
    assert.is_nil(ok)
    assert.equal("verify_failed", code)
    assert.equal("certificate verify failed: rejected by on_verify: not the pinned key "
      .. "(depth 0, CN=good-ecdsa.test) (sent alert bad_certificate)", err)
    peer.wait(server, 1)
    assert.matches("alert bad certificate", peer.output(server), 1, true)
  end)

  it("turns an error thrown in the callback into code 'callback' and alert bad_certificate", function()
    server = serve("good-rsa")
    local ok, err, code = connect(server, { on_verify = function(_, v)
      if v.depth == 1 then error("lookup failed") end
    end }, "good-rsa.test")
    assert.is_nil(ok)
    assert.equal("callback", code)
    assert.matches("^callback error: .*lookup failed$", err)
    peer.wait(server, 1)
    assert.matches("alert bad certificate", peer.output(server), 1, true)
  end)
end)

describe("a server that requires a client certificate (openssl s_server -Verify)", function()
  local server
  after_each(function() peer.stop(server) end)

  it("tells a TLS 1.3 client without one: alert certificate_required on its first read", function()
    server = serve("good-ecdsa", " -Verify 1 -CAfile " .. q(m.path("root.pem")))
    local ok, err, code = connect(server, nil, "good-ecdsa.test")
    -- TLS 1.3: the client's Finished goes out before the server judges its (absent)
    -- certificate, so the handshake completes and the first read hears the alert
    assert.is_true(ok)
    assert.equal("alert", code)
    assert.equal("read failed: received alert certificate_required", err)
  end)

  it("tells a TLS 1.2 client without one during the handshake", function()
    server = serve("good-ecdsa", " -Verify 1 -CAfile " .. q(m.path("root.pem")))
    local ok, err, code = connect(server, { max_version = "tls1.2" }, "good-ecdsa.test")
    assert.is_nil(ok)
    assert.equal("alert", code)
    assert.equal("handshake failed: received alert handshake_failure", err)
  end)

  it("accepts a client that presents its certificate and key", function()
    server = serve("good-ecdsa", " -Verify 1 -CAfile " .. q(m.path("root.pem")))
    local ok, err = connect(server, { certificate = m.path("client.pem"), key = m.path("client.key") }, "good-ecdsa.test")
    assert.is_true(ok, err)
    peer.wait(server, 0.5)
    assert.matches("CN ?= ?matrix client", peer.output(server))
  end)
end)
