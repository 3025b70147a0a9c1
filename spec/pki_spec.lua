-- A script makes its own throwaway PKI with wolfssl.pki (wolfSSL's certificate
-- generation, no openssl CLI), and what it makes is what OpenSSL and wolfSSL expect.
local wolfssl = require "wolfssl"
local pki = require "wolfssl.pki"
local tmp = require "spec.helpers.tmp"

local q = tmp.quote
local DAY = 86400

local function write(name, data) return tmp.write("pki-" .. name, data) end

describe("pki keys", function()
  it("makes EC keys (P-256 by default) and RSA keys of a chosen size", function()
    local ec = pki.key()
    assert.same({ "ec", 256, "P-256" }, { ec:type(), ec:bits(), ec:curve() })
    local p384 = pki.key("ec", "P-384")
    assert.same({ "ec", 384, "P-384" }, { p384:type(), p384:bits(), p384:curve() })
    local rsa = pki.key("rsa", 1024)
    assert.same({ "rsa", 1024 }, { rsa:type(), rsa:bits() })
    assert.is_nil(rsa:curve())
    assert.has_error(function() pki.key("ec", "P-999") end)
    assert.has_error(function() pki.key("rsa", 100) end)
    assert.has_error(function() pki.key("dsa") end)
  end)

  it("writes PEM that OpenSSL reads: PKCS#8, traditional, and both encrypted", function()
    local key = pki.key()
    local forms = {
      { key:pem(), "-----BEGIN PRIVATE KEY-----" },
      { key:pem({ format = "traditional" }), "-----BEGIN EC PRIVATE KEY-----" },
      { key:pem({ password = "pw" }), "-----BEGIN ENCRYPTED PRIVATE KEY-----" },
      { key:pem({ format = "traditional", password = "pw" }), "DEK-Info: AES-256-CBC," },
    }
    for i, f in ipairs(forms) do
      assert.matches(f[2], f[1], 1, true)
      local file = write("key" .. i .. ".pem", f[1])
      local out = tmp.run(("openssl pkey -in %s -passin pass:pw -noout -text"):format(q(file)))
      assert.matches("Private-Key: (256 bit", out, 1, true)
      -- and it is the same key every time
      local again = assert(pki.load_key(f[1], "pw"))
      assert.equal(key:public_der(), again:public_der())
    end
  end)

  it("loads keys back, refusing a wrong password with a message", function()
    local key = pki.key("rsa", 1024)
    assert.equal(key:public_der(), assert(pki.load_key(key:der())):public_der())
    local nothing, err = pki.load_key(key:pem({ password = "right" }), "wrong")
    assert.is_nil(nothing)
    assert.equal("cannot decrypt private key: wrong password?", err)
    assert.same({ nil, "cannot load private key: ASN parsing error, invalid input" }, { pki.load_key("garbage") })
  end)

  it("gives the RFC 7469 pin of the public key, the same as the certificate's", function()
    local cert, key = pki.certificate({ subject = "CN=pin" })
    assert.equal(cert:spki_pin(), key:spki_pin())
    assert.equal(44, #key:spki_pin())
  end)
end)

describe("pki certificates", function()
  local root = pki.ca({ subject = "CN=PKI Spec Root,O=lua-wolfssl tests" })
  local int = root:intermediate({ subject = "CN=PKI Spec Intermediate,O=lua-wolfssl tests", path_len = 0 })
  local root_file = write("root.pem", root:pem())
  local int_file = write("int.pem", int:pem())

  it("builds a root, an intermediate and a leaf that openssl verify accepts", function()
    local leaf, key = int:issue({ subject = "CN=localhost", dns = { "localhost" }, ip = { "127.0.0.1", "::1" } })
    local file = write("leaf.pem", leaf:pem())
    assert.matches(": OK", tmp.run(("openssl verify -CAfile %s -untrusted %s %s"):format(q(root_file), q(int_file), q(file))), 1, true)
    assert.is_true(root.certificate:is_ca() and int.certificate:is_ca())
    assert.is_false(leaf:is_ca())
    assert.same({ "keyCertSign", "cRLSign" }, int.certificate:key_usage())
    assert.same({ "serverAuth" }, leaf:extended_key_usage())
    assert.same({ int.certificate }, int:chain())
    assert.same({}, root:chain())
    -- and wolfSSL serves and verifies it
    local sctx = assert(wolfssl.context({ role = "server", certificate = { leaf, int.certificate }, key = key:pem() }))
    local cctx = assert(wolfssl.context({ role = "client", ca = root.certificate }))
    local p = assert(wolfssl.pair(cctx, sctx, { server_name = "::1" }))
    assert.is_true(p.client:info().verified)
  end)

  it("uses the validity window it is given, to the second, in either time encoding", function()
    local nb, na = 1700000000, 2900000000 -- after 2049: GeneralizedTime (RFC 5280 4.1.2.5)
    local cert = pki.certificate({ subject = "CN=window", not_before = nb, not_after = na })
    assert.same({ nb, na }, { cert:not_before(), cert:not_after() })
    local out = tmp.run("openssl x509 -noout -dates -in " .. q(write("window.pem", cert:pem())))
    assert.matches("notBefore=Nov 14 22:13:20 2023 GMT", out, 1, true)
    assert.matches("notAfter=Nov 23 19:33:20 2061 GMT", out, 1, true)
    local short = pki.certificate({ subject = "CN=days", days = 2 })
    assert.equal(2 * DAY, short:not_after() - short:not_before())
  end)

  it("signs with the digest asked for, SHA-1 and MD5 included, for the tests that need them", function()
    local rsa_root = pki.ca({ subject = "CN=RSA", key = pki.key("rsa", 2048) })
    assert.equal("sha1WithRSAEncryption", (rsa_root:issue({ subject = "CN=a", hash = "sha1" })):signature_algorithm())
    assert.equal("md5WithRSAEncryption", (rsa_root:issue({ subject = "CN=b", hash = "md5" })):signature_algorithm())
    assert.equal("ecdsa-with-SHA1", (root:issue({ subject = "CN=c", hash = "sha1" })):signature_algorithm())
    assert.equal("ecdsa-with-SHA384", (root:issue({ subject = "CN=d", hash = "sha384" })):signature_algorithm())
    assert.has_error(function() root:issue({ subject = "CN=e", hash = "md5" }) end, "no md5 signature with an EC key")
  end)

  it("makes client certificates and any extension a test needs", function()
    local client = root:issue({ subject = "CN=client", eku = { "clientAuth" } })
    assert.same({ "clientAuth" }, client:extended_key_usage())
    local odd = root:issue({ subject = "CN=odd", eku = false, key_usage = { "keyAgreement" },
      extensions = { { oid = "1.2.3.4", critical = false, value = pki.der.utf8("x") } } })
    assert.is_nil(odd:extended_key_usage())
    assert.same({ "keyAgreement" }, odd:key_usage())
    assert.equal("1.2.3.4", odd:extensions()[#odd:extensions()].oid)
    -- an unknown critical extension: wolfSSL cannot parse it, so it comes back as PEM
    local crit = root:issue({ subject = "CN=crit", extensions = { { oid = "1.2.3.4", critical = true } } })
    assert.is_string(crit)
    local text = tmp.run("openssl x509 -noout -text -in " .. q(write("crit.pem", crit)))
    assert.matches("1.2.3.4: critical", text, 1, true)
  end)

  it("encodes name constraints that openssl enforces", function()
    local nc = root:intermediate({ subject = "CN=NC", name_constraints = { permitted = { dns = { "good.test" }, ip = { "10.0.0.0/8" } },
      excluded = { dns = { "bad.good.test" } } } })
    local text = tmp.run("openssl x509 -noout -ext nameConstraints -in " .. q(write("nc.pem", nc:pem())))
    assert.matches("Permitted:%s+DNS:good.test%s+IP:10.0.0.0/255.0.0.0%s+Excluded:%s+DNS:bad.good.test", text)
    local ok_leaf = nc:issue({ subject = "CN=www.good.test", dns = { "www.good.test" } })
    local bad_leaf = nc:issue({ subject = "CN=x.bad.good.test", dns = { "x.bad.good.test" } })
    local chain = write("nc-chain.pem", nc:pem())
    local verify = ("openssl verify -CAfile %s -untrusted %s %%s 2>&1 || true"):format(q(root_file), q(chain))
    assert.matches(": OK", tmp.run(verify:format(q(write("nc-ok.pem", ok_leaf:pem())))), 1, true)
    assert.matches("excluded subtree violation", tmp.run(verify:format(q(write("nc-bad.pem", bad_leaf:pem())))), 1, true)
  end)

  it("refuses incomplete requests with an error naming the field", function()
    assert.has_error(function() pki.certificate({}) end, "certificate: 'subject' is required")
    assert.has_error(function() pki.certificate({ subject = "CN=x", issuer = root.certificate }) end,
      "certificate: 'issuer' needs 'issuer_key'")
    assert.has_error(function() pki.certificate({ subject = "CN=x", ip = { "300.1.1.1" } }) end)
    assert.has_error(function() pki.certificate({ subject = "XX=x" }) end, "unknown name attribute 'XX'")
  end)
end)

describe("pki revocation data", function()
  local root = pki.ca({ subject = "CN=Revocation Root" })
  local root_file = write("rev-root.pem", root:pem())
  local good = root:issue({ subject = "CN=good", dns = { "good.test" } })
  local bad = root:issue({ subject = "CN=bad", dns = { "bad.test" }, serial = "0badc0de" })

  it("makes CRLs that openssl verifies, listing the revoked serials", function()
    local crl = root:crl({ revoked = { bad, "1234" } })
    local file = write("root.crl", crl)
    local out = tmp.run(("openssl crl -in %s -CAfile %s -noout -text 2>&1"):format(q(file), q(root_file)))
    assert.matches("verify OK", out, 1, true)
    assert.matches("Serial Number: 0BADC0DE", out, 1, true)
    assert.matches("Serial Number: 1234", out, 1, true)
    assert.matches("Issuer: CN = Revocation Root", out, 1, true)
  end)

  it("makes OCSP responses that openssl verifies, good or revoked", function()
    local cases = { { good, "good", ": good" }, { bad, "revoked", ": revoked" } }
    for _, c in ipairs(cases) do
      local resp = root:ocsp_response({ certificate = c[1], status = c[2] })
      local out = tmp.run(("openssl ocsp -respin %s -issuer %s -cert %s -CAfile %s 2>&1"):format(
        q(write("resp-" .. c[2] .. ".der", resp)), q(root_file), q(write("ocsp-" .. c[2] .. ".pem", c[1]:pem())), q(root_file)))
      assert.matches("Response verify OK", out, 1, true)
      assert.matches(c[3], out, 1, true)
    end
  end)
end)

describe("pki with bad input", function()
  it("raises for wrong types, naming what is wrong", function()
    assert.has_error(function() pki.key(42) end)
    assert.has_error(function() pki.load_key(nil) end)
    assert.has_error(function() pki.key():sign(nil) end)
    assert.has_error(function() pki.key():sign("x", "sha3") end)
    assert.has_error(function() pki.certificate({ subject = "CN=x", key = "not a key" }) end,
      "certificate: 'key' must be a key from pki.key() or pki.load_key()")
    assert.has_error(function() pki.certificate("CN=x") end, "bad argument #1 to 'certificate' (table expected)")
    assert.has_error(function() pki.crl({}) end, "crl: 'issuer' and 'issuer_key' are required")
    assert.has_error(function() pki.ocsp_response({}) end,
      "ocsp_response: 'issuer', 'issuer_key' and 'certificate' are required")
  end)

  it("keeps keys usable whatever order things are collected in", function()
    local keys = {}
    for i = 1, 20 do keys[i] = pki.key() end
    local cert = pki.certificate({ subject = "CN=gc", key = keys[20] })
    keys = nil
    collectgarbage()
    collectgarbage()
    assert.equal("CN=gc", tostring(cert:subject()))
  end)
end)
