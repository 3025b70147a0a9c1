-- A Certificate object says what `openssl x509` says of the same file, stays valid on
-- its own, and answers the questions a verifying script asks (host, IP, issuer, pin).
local wolfssl = require "wolfssl"
local pki = require "wolfssl.pki"
local certs = require "spec.helpers.certs"
local tmp = require "spec.helpers.tmp"

local q = tmp.quote

local function openssl(args, file)
  return tmp.run("openssl x509 -in " .. q(file) .. " -noout " .. args)
end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

-- "Nov 22 09:27:23 2026 GMT" -> epoch seconds (UTC)
local function openssl_time(s)
  local mon, d, h, mi, sec, y = s:match("(%a+)%s+(%d+) (%d+):(%d+):(%d+) (%d+) GMT")
  local days = 0
  local y0, m0 = tonumber(y), MONTHS[mon]
  -- days from civil (Howard Hinnant), no os.time: the local time zone must not matter
  local yy = m0 <= 2 and y0 - 1 or y0
  local era = math.floor(yy / 400)
  local yoe = yy - era * 400
  local mp = (m0 + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + tonumber(d) - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec)
end

local KU = { ["Digital Signature"] = "digitalSignature", ["Non Repudiation"] = "nonRepudiation",
  ["Key Encipherment"] = "keyEncipherment", ["Data Encipherment"] = "dataEncipherment",
  ["Key Agreement"] = "keyAgreement", ["Certificate Sign"] = "keyCertSign", ["CRL Sign"] = "cRLSign" }
local EKU = { ["TLS Web Server Authentication"] = "serverAuth", ["TLS Web Client Authentication"] = "clientAuth",
  ["Code Signing"] = "codeSigning", ["E-mail Protection"] = "emailProtection", ["Time Stamping"] = "timeStamping",
  ["OCSP Signing"] = "OCSPSigning" }
local EXT = { ["X509v3 Basic Constraints"] = "2.5.29.19", ["X509v3 Key Usage"] = "2.5.29.15",
  ["X509v3 Extended Key Usage"] = "2.5.29.37", ["X509v3 Subject Alternative Name"] = "2.5.29.17",
  ["X509v3 Subject Key Identifier"] = "2.5.29.14", ["X509v3 Authority Key Identifier"] = "2.5.29.35",
  ["X509v3 CRL Distribution Points"] = "2.5.29.31", ["Authority Information Access"] = "1.3.6.1.5.5.7.1.1",
  ["X509v3 Name Constraints"] = "2.5.29.30" }

local function split_list(s)
  local out = {}
  for item in (s .. ","):gmatch("%s*(.-)%s*,") do if item ~= "" then out[#out + 1] = item end end
  return out
end

-- the certificates compared: the shared test files, plus one with every field set
local rich, rich_key = certs.ca:issue({ subject = "CN=rich.test,OU=Unit,O=lua-wolfssl tests,C=DE",
  dns = { "rich.test", "*.rich.test" }, ip = { "192.0.2.7", "2001:db8::7" }, email = { "ops@rich.test" },
  uri = { "https://rich.test/" }, eku = { "serverAuth", "clientAuth" }, key = pki.key("rsa", 2048),
  crl_url = "http://127.0.0.1/ca.crl", ocsp_url = "http://127.0.0.1/ocsp",
  extensions = { { oid = "1.3.6.1.4.1.55555.7", value = pki.der.utf8("not critical") } } })
tmp.write("rich.pem", rich:pem())
assert(rich_key)

local FILES = { "ec.pem", "rsa.pem", "ca.pem", "client.pem", "rich.pem" }

describe("certificate fields equal what `openssl x509` says of the same file", function()
  for _, name in ipairs(FILES) do
    local file = tmp.path(name)
    local cert = assert(wolfssl.certificate(tmp.read(file)))

    it("subject, issuer, serial and validity (" .. name .. ")", function()
      assert.equal(openssl("-subject -nameopt RFC2253", file):match("subject=(.-)\n"), tostring(cert:subject()))
      assert.equal(openssl("-issuer -nameopt RFC2253", file):match("issuer=(.-)\n"), tostring(cert:issuer()))
      assert.equal(openssl("-serial", file):match("serial=(%x+)"), cert:serial())
      assert.equal(openssl_time(openssl("-startdate", file)), cert:not_before())
      assert.equal(openssl_time(openssl("-enddate", file)), cert:not_after())
    end)

    it("fingerprints and the SPKI pin (" .. name .. ")", function()
      for _, alg in ipairs({ "sha256", "sha1" }) do
        local fp = openssl("-fingerprint -" .. alg, file):match("Fingerprint=([%x:]+)")
        assert.equal(fp:gsub(":", ""):lower(), cert:fingerprint(alg))
      end
      local pin = tmp.run(("openssl x509 -in %s -noout -pubkey | openssl pkey -pubin -outform der"
        .. " | openssl dgst -sha256 -binary | openssl base64 -A"):format(q(file)))
      assert.equal(pin, cert:spki_pin())
    end)

    it("public key, signature algorithm and basic constraints (" .. name .. ")", function()
      local text = openssl("-text", file)
      local pk = cert:public_key()
      assert.equal(tonumber(text:match("Public%-Key: %((%d+) bit%)")), pk.bits)
      if text:find("id-ecPublicKey", 1, true) then
        assert.equal("ec", pk.type)
        assert.equal(text:match("NIST CURVE: ([%w%-]+)"), pk.curve)
      else
        assert.equal("rsa", pk.type)
        assert.is_nil(pk.curve)
      end
      assert.equal(text:match("Signature Algorithm: (%S+)"), cert:signature_algorithm())
      assert.equal(text:match("CA:(%u+)") == "TRUE", cert:is_ca())
    end)

    it("key usage, extended key usage and alt names (" .. name .. ")", function()
      local text = openssl("-text", file)
      local ku = text:match("X509v3 Key Usage:[^\n]*\n%s*([^\n]+)")
      if ku then
        local want = {}
        for _, n in ipairs(split_list(ku)) do want[#want + 1] = KU[n] end
        assert.same(want, cert:key_usage())
      else
        assert.is_nil(cert:key_usage())
      end
      local eku = text:match("X509v3 Extended Key Usage:[^\n]*\n%s*([^\n]+)")
      if eku then
        local want = {}
        for _, n in ipairs(split_list(eku)) do want[#want + 1] = EKU[n] end
        assert.same(want, cert:extended_key_usage())
      else
        assert.is_nil(cert:extended_key_usage())
      end
      local san = text:match("X509v3 Subject Alternative Name:[^\n]*\n%s*([^\n]+)") or ""
      local want = {}
      for _, item in ipairs(split_list(san)) do
        local kind, value = item:match("^(.-):(.*)$")
        local key = ({ DNS = "dns", ["IP Address"] = "ip", email = "email", URI = "uri" })[kind]
        want[key] = want[key] or {}
        table.insert(want[key], value)
      end
      local got = cert:alt_names()
      -- openssl spells IPv6 uncompressed (0:0:...:1): compare addresses, not spellings
      for i, ip in ipairs(want.ip or {}) do want.ip[i] = pki.ip_bytes(ip) end
      for i, ip in ipairs(got.ip or {}) do got.ip[i] = pki.ip_bytes(ip) end
      assert.same(want, got)
    end)

    it("the list of extensions, with their criticality (" .. name .. ")", function()
      local text = openssl("-text", file)
      local section = text:match("X509v3 extensions:(.-)\n    Signature Algorithm") or ""
      local want = {}
      for line in section:gmatch("\n            (%S[^\n]*)") do
        local ename, rest = line:match("^(.-):(.*)$")
        want[#want + 1] = { oid = EXT[ename] or ename, critical = rest == " critical" }
      end
      local got = {}
      for _, e in ipairs(cert:extensions()) do got[#got + 1] = { oid = e.oid, critical = e.critical } end
      assert.same(want, got)
    end)
  end
end)

describe("a Certificate object", function()
  local cert = assert(wolfssl.certificate(tmp.read(tmp.path("rich.pem"))))

  it("names its extensions by OpenSSL's short names, unknown ones by OID", function()
    local names = {}
    for _, e in ipairs(cert:extensions()) do names[#names + 1] = e.name end
    assert.same({ "basicConstraints", "subjectAltName", "subjectKeyIdentifier", "authorityKeyIdentifier",
      "keyUsage", "extendedKeyUsage", "crlDistributionPoints", "authorityInfoAccess", "1.3.6.1.4.1.55555.7" }, names)
  end)

  it("lists alt names in certificate order, IPs as text", function()
    assert.same({ dns = { "rich.test", "*.rich.test" }, ip = { "192.0.2.7", "2001:db8::7" },
      email = { "ops@rich.test" }, uri = { "https://rich.test/" } }, cert:alt_names())
    assert.same({}, assert(wolfssl.certificate(certs.read("client.pem"))):alt_names())
  end)

  it("checks host names and addresses as a verifying client does", function()
    assert.is_true(cert:check_host("rich.test"))
    assert.is_true(cert:check_host("www.rich.test"))
    assert.is_false(cert:check_host("a.www.rich.test"))
    assert.is_false(cert:check_host("other.test"))
    assert.is_true(cert:check_host("192.0.2.7"))
    assert.is_true(cert:check_host("[2001:db8:0::7]"))
    assert.is_true(cert:check_ip("2001:DB8::7"))
    assert.is_false(cert:check_ip("192.0.2.8"))
    assert.has_error(function() cert:check_ip("rich.test") end,
      "bad argument #1 to 'check_ip' (not an IPv4 or IPv6 address)")
  end)

  it("knows its issuer by name and signature, not by name alone", function()
    local ca = assert(wolfssl.certificate(certs.read("ca.pem")))
    assert.is_true(cert:issued_by(ca))
    assert.is_true(ca:issued_by(ca))
    assert.is_false(ca:issued_by(cert))
    local impostor = pki.ca({ subject = tostring(ca:subject()) }) -- same name, other key
    assert.equal(tostring(ca:subject()), tostring(impostor.certificate:subject()))
    assert.is_false(cert:issued_by(impostor.certificate))
  end)

  it("reads a PEM bundle with wolfssl.certificates", function()
    local list = assert(wolfssl.certificates(certs.read("ec.pem") .. certs.read("ca.pem")))
    assert.equal(2, #list)
    assert.equal("CN=localhost", tostring(list[1]:subject()))
    assert.is_true(list[1]:issued_by(list[2]))
    assert.same({ nil, "no PEM certificate found" }, { wolfssl.certificates("not a certificate") })
  end)

  it("refuses garbage with a message and wrong types with an error", function()
    assert.same({ nil, "cannot parse certificate (not DER or PEM)" }, { wolfssl.certificate("\48\130garbage") })
    assert.same({ nil, "cannot parse certificate (bad PEM)" },
      { wolfssl.certificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n") })
    assert.has_error(function() wolfssl.certificate({}) end)
    assert.has_error(function() cert.fingerprint(nil) end)
    assert.has_error(function() cert:fingerprint("sha3") end)
  end)

  it("stays valid after its connection is closed and collected", function()
    local sctx = assert(wolfssl.context({ role = "server", certificate = certs.path("rsa.pem"), key = certs.path("rsa.key") }))
    local cctx = assert(wolfssl.context({ role = "client", ca = certs.path("ca.pem") }))
    local p = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost" }))
    local leaf, chain, verified = p.client:peer_certificate(), p.client:peer_chain(), p.client:verified_chain()
    p:close()
    p, sctx, cctx = nil, nil, nil
    collectgarbage()
    collectgarbage()
    assert.equal(certs.read("rsa.pem"), leaf:pem())
    assert.equal(leaf, chain[1])
    assert.equal(leaf, verified[1])
    assert.equal(certs.read("ca.pem"), verified[2]:pem())
    assert.equal("rsa", leaf:public_key().type)
  end)
end)
