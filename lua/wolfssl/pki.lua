-- wolfssl.pki: throwaway keys, CAs, certificates, CRLs and OCSP responses, made in
-- process with wolfSSL's own certificate generation (no openssl CLI).
--
--   local pki = require "wolfssl.pki"
--   local root = pki.ca{ subject = "CN=Test Root" }
--   local int = root:intermediate{ subject = "CN=Test Intermediate" }
--   local cert, key = int:issue{ subject = "CN=localhost", dns = { "localhost" }, ip = { "127.0.0.1" } }
--   -- cert is a wolfssl Certificate (cert:pem()), key a Key (key:pem())
--
-- The C core (core.pki) generates keys, signs, and encodes the TBSCertificate with
-- wc_MakeCert_ex from fields decided here. What wolfSSL's Cert struct cannot express
-- (names in any order, exact validity windows, IP/URI/email SANs, name constraints,
-- arbitrary extensions) is DER-encoded in this file and handed over as bytes or spliced
-- into the TBS before wc_SignCert_ex signs it. CRLs and OCSP responses, which wolfSSL
-- cannot generate, are encoded here entirely and signed with the issuer's key.
local core = require "wolfssl.core"
local C = core.pki

local M = {}
local unpack = table.unpack or unpack

---------------------------------------------------------------------------------------
-- DER (X.690) encoding and reading, just what certificates need.

local der = {}
M.der = der

local function len_bytes(n)
  if n < 128 then return string.char(n) end
  local t = {}
  while n > 0 do
    table.insert(t, 1, string.char(n % 256))
    n = math.floor(n / 256)
  end
  return string.char(128 + #t) .. table.concat(t)
end

function der.tlv(tag, content) return string.char(tag) .. len_bytes(#content) .. content end
function der.seq(...) return der.tlv(0x30, table.concat({ ... })) end
function der.set(...) return der.tlv(0x31, table.concat({ ... })) end
function der.null() return string.char(5, 0) end
function der.bool(b) return string.char(1, 1, b and 255 or 0) end
function der.octets(s) return der.tlv(0x04, s) end
function der.bits(s) return der.tlv(0x03, string.char(0) .. s) end
function der.utf8(s) return der.tlv(0x0c, s) end
function der.printable(s) return der.tlv(0x13, s) end
function der.ia5(s) return der.tlv(0x16, s) end
function der.explicit(n, content) return der.tlv(0xa0 + n, content) end

-- INTEGER from a non-negative Lua number or from big-endian magnitude bytes.
function der.int(v)
  local s = v
  if type(v) == "number" then
    local t = {}
    repeat
      table.insert(t, 1, string.char(v % 256))
      v = math.floor(v / 256)
    until v == 0
    s = table.concat(t)
  end
  s = s:gsub("^%z+", "")
  if s == "" or s:byte(1) >= 128 then s = string.char(0) .. s end
  return der.tlv(0x02, s)
end

function der.oid(dotted)
  local arcs = {}
  for a in dotted:gmatch("%d+") do arcs[#arcs + 1] = tonumber(a) end
  assert(#arcs >= 2, "bad OID " .. dotted)
  local out = { string.char(arcs[1] * 40 + arcs[2]) }
  for i = 3, #arcs do
    local v, t = arcs[i], {}
    table.insert(t, 1, string.char(v % 128))
    v = math.floor(v / 128)
    while v > 0 do
      table.insert(t, 1, string.char(128 + v % 128))
      v = math.floor(v / 128)
    end
    out[#out + 1] = table.concat(t)
  end
  return der.tlv(0x06, table.concat(out))
end

-- UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5).
function der.time(epoch, generalized)
  local year = tonumber(os.date("!%Y", epoch))
  if generalized or year >= 2050 or year < 1950 then
    return der.tlv(0x18, os.date("!%Y%m%d%H%M%SZ", epoch))
  end
  return der.tlv(0x17, os.date("!%y%m%d%H%M%SZ", epoch))
end

-- Read one TLV at pos: tag, content start, content end (inclusive), next position.
function der.read(s, pos)
  pos = pos or 1
  local tag, l = s:byte(pos, pos + 1)
  if not l then error("truncated DER", 2) end
  local start = pos + 2
  if l >= 128 then
    local n = l - 128
    l = 0
    for i = 1, n do l = l * 256 + s:byte(pos + 1 + i) end
    start = pos + 2 + n
  end
  return tag, start, start + l - 1, start + l
end

-- The elements of a constructed value's content, each as its full TLV bytes.
function der.children(s, first, last)
  local out, pos = {}, first
  while pos <= last do
    local tag, _, _, nxt = der.read(s, pos)
    out[#out + 1] = { tag = tag, bytes = s:sub(pos, nxt - 1) }
    pos = nxt
  end
  return out
end

function der.content(tlv)
  local _, a, b = der.read(tlv, 1)
  return tlv:sub(a, b)
end

---------------------------------------------------------------------------------------
-- Names, addresses, general names

local NAME_OIDS = {
  CN = "2.5.4.3", C = "2.5.4.6", L = "2.5.4.7", ST = "2.5.4.8", O = "2.5.4.10",
  OU = "2.5.4.11", serialNumber = "2.5.4.5", street = "2.5.4.9", title = "2.5.4.12",
  emailAddress = "1.2.840.113549.1.9.1", DC = "0.9.2342.19200300.100.1.25",
  UID = "0.9.2342.19200300.100.1.1",
}
M.NAME_OIDS = NAME_OIDS

local function name_value(attr, v)
  if attr == "C" then return der.printable(v) end
  if attr == "emailAddress" or attr == "DC" then return der.ia5(v) end
  return der.utf8(v)
end

-- RFC 4514 string ("CN=a,O=b", most specific first) -> list of {attr, value} in DER
-- order (most general first), the order Certificate:subject() lists them.
local function parse_dn(s)
  local rdns, cur, i = {}, {}, 1
  local buf, attr = {}, nil
  local function flush()
    local text = table.concat(buf)
    if not attr then error(("bad distinguished name '%s'"):format(s), 4) end
    cur = { attr, text }
    table.insert(rdns, 1, cur)
    buf, attr = {}, nil
  end
  while i <= #s do
    local ch = s:sub(i, i)
    if ch == "\\" then
      buf[#buf + 1] = s:sub(i + 1, i + 1)
      i = i + 2
    elseif ch == "=" and not attr then
      attr = table.concat(buf):match("^%s*(.-)%s*$")
      buf = {}
      i = i + 1
    elseif ch == "," or ch == "+" then
      flush()
      i = i + 1
    else
      buf[#buf + 1] = ch
      i = i + 1
    end
  end
  flush()
  return rdns
end

-- Name DER from "CN=x,O=y", a list of {attr, value} / {name=, value=} (DER order), or
-- a Certificate's subject() list.
function M.name(v)
  if type(v) == "string" then v = parse_dn(v) end
  local rdns = {}
  for _, e in ipairs(v) do
    local attr, value = e[1] or e.name, e[2] or e.value
    local oid = NAME_OIDS[attr] or (attr:match("^[%d%.]+$") and attr)
    if not oid then error(("unknown name attribute '%s'"):format(tostring(attr)), 2) end
    rdns[#rdns + 1] = der.set(der.seq(der.oid(oid), name_value(attr, value)))
  end
  return der.seq(unpack(rdns))
end

-- "192.0.2.1" / "2001:db8::1" -> 4 or 16 bytes, or nil
function M.ip_bytes(s)
  local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if a then
    local t = { tonumber(a), tonumber(b), tonumber(c), tonumber(d) }
    for _, x in ipairs(t) do if x > 255 then return nil end end
    return string.char(unpack(t))
  end
  if not s:find(":", 1, true) then return nil end
  local head, tail = s:match("^(.-)::(.*)$")
  local function groups(part)
    local g = {}
    if part == "" then return g end
    for x in (part .. ":"):gmatch("([^:]*):") do
      if not x:match("^%x%x?%x?%x?$") then return nil end
      g[#g + 1] = tonumber(x, 16)
    end
    return g
  end
  local g
  if head then
    local h, t = groups(head), groups(tail)
    if not h or not t or #h + #t > 7 then return nil end
    g = h
    for _ = 1, 8 - #h - #t do g[#g + 1] = 0 end
    for _, x in ipairs(t) do g[#g + 1] = x end
  else
    g = groups(s)
    if not g or #g ~= 8 then return nil end
  end
  local out = {}
  for _, x in ipairs(g) do out[#out + 1] = string.char(math.floor(x / 256), x % 256) end
  return table.concat(out)
end

local function ip_or_error(s)
  local b = M.ip_bytes(s)
  if not b then error(("bad IP address '%s'"):format(tostring(s)), 3) end
  return b
end

local function list(v)
  if v == nil then return {} end
  if type(v) == "table" then return v end
  return { v }
end

-- GeneralNames content (RFC 5280 4.2.1.6): rfc822Name [1], dNSName [2], URI [6], iPAddress [7]
local function general_names(t)
  local out = {}
  for _, n in ipairs(list(t.dns)) do out[#out + 1] = der.tlv(0x82, n) end
  for _, n in ipairs(list(t.ip)) do out[#out + 1] = der.tlv(0x87, ip_or_error(n)) end
  for _, n in ipairs(list(t.email)) do out[#out + 1] = der.tlv(0x81, n) end
  for _, n in ipairs(list(t.uri)) do out[#out + 1] = der.tlv(0x86, n) end
  return table.concat(out)
end

---------------------------------------------------------------------------------------
-- Extensions pki.lua adds itself (wolfSSL's Cert struct has no field for them)

local function extension(oid, critical, value)
  return der.seq(der.oid(oid), critical and der.bool(true) or "", der.octets(value))
end

-- NameConstraints (RFC 5280 4.2.1.10): {permitted = {dns=, ip=, email=, uri=},
-- excluded = {...}}; an ip constraint is "addr/prefix".
local function subtrees(t)
  local out = {}
  for _, n in ipairs(list(t.dns)) do out[#out + 1] = der.seq(der.tlv(0x82, n)) end
  for _, n in ipairs(list(t.email)) do out[#out + 1] = der.seq(der.tlv(0x81, n)) end
  for _, n in ipairs(list(t.uri)) do out[#out + 1] = der.seq(der.tlv(0x86, n)) end
  for _, n in ipairs(list(t.ip)) do
    local addr, bits = n:match("^(.-)/(%d+)$")
    local a = ip_or_error(addr or n)
    bits = tonumber(bits) or #a * 8
    local mask = {}
    for i = 1, #a do
      local b = math.max(0, math.min(8, bits - (i - 1) * 8))
      mask[i] = string.char(256 - 2 ^ (8 - b))
    end
    out[#out + 1] = der.seq(der.tlv(0x87, a .. table.concat(mask)))
  end
  return table.concat(out)
end

local function name_constraints(nc)
  local parts = {}
  if nc.permitted then parts[#parts + 1] = der.tlv(0xa0, subtrees(nc.permitted)) end
  if nc.excluded then parts[#parts + 1] = der.tlv(0xa1, subtrees(nc.excluded)) end
  return extension("2.5.29.30", nc.critical ~= false, der.seq(unpack(parts)))
end

local function crl_distribution(url)
  return extension("2.5.29.31", false,
    der.seq(der.seq(der.tlv(0xa0, der.tlv(0xa0, der.tlv(0x86, url))))))
end

local function authority_info(url)
  return extension("1.3.6.1.5.5.7.1.1", false,
    der.seq(der.seq(der.oid("1.3.6.1.5.5.7.48.1"), der.tlv(0x86, url))))
end

-- basicConstraints (RFC 5280 4.2.1.9), always critical: cA and pathLenConstraint
local function basic_constraints(ca, path_len)
  local v = ""
  if ca then v = der.bool(true) .. (path_len and der.int(path_len) or "") end
  return extension("2.5.29.19", true, der.seq(v))
end

-- Insert extension TLVs into a TBSCertificate (front ones first, then wolfSSL's, then
-- the rest), creating [3] Extensions if absent.
local function splice_extensions(tbs, front, exts)
  if #exts == 0 and #front == 0 then return tbs end
  local _, a, b = der.read(tbs, 1)
  local parts = der.children(tbs, a, b)
  local found = false
  for _, p in ipairs(parts) do
    if p.tag == 0xa3 then
      local inner = der.content(p.bytes)
      p.bytes = der.tlv(0xa3, der.tlv(0x30, table.concat(front) .. der.content(inner) .. table.concat(exts)))
      found = true
    end
  end
  if not found then parts[#parts + 1] = { bytes = der.tlv(0xa3, der.seq(table.concat(front) .. table.concat(exts))) } end
  local out = {}
  for _, p in ipairs(parts) do out[#out + 1] = p.bytes end
  return der.seq(unpack(out))
end

---------------------------------------------------------------------------------------
-- Reading certificates (fields the encoders above need back)

-- {tbs, serial = INTEGER tlv, issuer = Name tlv, subject = Name tlv, spki = SPKI tlv,
--  extensions = {[oid] = {critical = bool, value = bytes}}}
local function oid_text(tlv)
  local s = der.content(tlv)
  local first = s:byte(1)
  local arcs = { math.floor(first / 40), first % 40 }
  local v = 0
  for i = 2, #s do
    local b = s:byte(i)
    v = v * 128 + b % 128
    if b < 128 then arcs[#arcs + 1] = v; v = 0 end
  end
  return table.concat(arcs, ".")
end
der.oid_text = oid_text

function M.tbs_fields(cert_der)
  local _, a, b = der.read(cert_der, 1)
  local top = der.children(cert_der, a, b)
  local tbs = top[1].bytes
  local _, ta, tb = der.read(tbs, 1)
  local f = der.children(tbs, ta, tb)
  local i = f[1].tag == 0xa0 and 2 or 1 -- [0] version is optional (v1)
  local r = { tbs = tbs, serial = f[i].bytes, signature = f[i + 1].bytes, issuer = f[i + 2].bytes,
    validity = f[i + 3].bytes, subject = f[i + 4].bytes, spki = f[i + 5].bytes, extensions = {} }
  for j = i + 6, #f do
    if f[j].tag == 0xa3 then
      local seq = der.content(f[j].bytes)
      local _, sa, sb = der.read(seq, 1)
      for _, e in ipairs(der.children(seq, sa, sb)) do
        local _, ea, eb = der.read(e.bytes, 1)
        local parts = der.children(e.bytes, ea, eb)
        local crit = #parts == 3 and der.content(parts[2].bytes) ~= string.char(0)
        r.extensions[oid_text(parts[1].bytes)] = { critical = crit, value = der.content(parts[#parts].bytes) }
      end
    end
  end
  return r
end

-- The subjectPublicKey bits of an SPKI (what RFC 5280 key identifiers and OCSP's
-- issuerKeyHash hash).
function M.public_key_bits(spki)
  local _, a, b = der.read(spki, 1)
  return der.content(der.children(spki, a, b)[2].bytes):sub(2)
end

local function der_of(cert)
  if type(cert) == "string" then
    if cert:find("-----BEGIN", 1, true) then return assert(C.der(cert)) end
    return cert
  end
  return cert:der()
end

---------------------------------------------------------------------------------------
-- Keys

local Key = C.Key

-- key:pem{password=, format = "pkcs8" (default) | "traditional"}
function Key:pem(opts)
  opts = opts or {}
  return self:encode(opts.format or "pkcs8", "pem", opts.password)
end

function Key:der(opts)
  opts = opts or {}
  return self:encode(opts.format or "pkcs8", "der", opts.password)
end

-- RFC 7469 pin of the public key: base64(sha256(SubjectPublicKeyInfo))
function Key:spki_pin(alg)
  return C.base64(C.digest(alg or "sha256", self:public_der()))
end

-- pki.key() EC P-256; pki.key("ec", "P-384"); pki.key("rsa", 2048)
function M.key(kind, param)
  local k, err = C.generate_key(kind or "ec", param)
  if not k then error(err, 2) end
  return k
end

-- pki.load_key(pem_or_der [, password]) -> Key | nil, message
M.load_key = C.load_key
M.is_key = C.is_key
M.digest = C.digest
M.base64 = C.base64
M.Key = Key

---------------------------------------------------------------------------------------
-- Certificates

local DAY = 86400

local function serial_bytes(v)
  if type(v) == "number" then return der.content(der.int(v)) end
  if type(v) == "string" then
    local hex = v:gsub("[:%s]", "")
    if not hex:match("^%x+$") then error("bad serial '" .. v .. "' (a number or hex)", 3) end
    if #hex % 2 == 1 then hex = "0" .. hex end
    return (hex:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
  end
  -- 16 random bytes, positive, never starting with 0 (RFC 5280 4.1.2.2)
  local r = C.random(16)
  return string.char(r:byte(1) % 127 + 1) .. r:sub(2)
end

local function words(v)
  if type(v) == "table" then return table.concat(v, ",") end
  return v
end

-- pki.certificate{...} -> Certificate, Key. Fields (all optional except subject):
--   subject        "CN=x,O=y" | list of {attr, value}
--   key            the subject's Key (default: a new EC P-256 key); or key_type/key_param
--   issuer         Certificate of the issuer; issuer_key its Key (default: self-signed)
--   serial         number | hex string (default: 16 random bytes)
--   not_before     epoch seconds (default: now - 5 minutes)
--   not_after      epoch seconds (default: not_before + days)
--   days           validity in days (default 30)
--   hash           "sha256" | "sha384" | "sha512" | "sha1" | "md5" (RSA issuer only)
--   ca, path_len   a CA certificate (basicConstraints cA=TRUE [pathLen]); leaves get
--                  cA=FALSE (basic_constraints = false: no such extension at all)
--   key_usage      {"digitalSignature", ...} (default: CA keyCertSign,cRLSign; leaf
--                  digitalSignature, plus keyEncipherment for RSA)
--   eku            {"serverAuth", "clientAuth", ...} (default for leaves: serverAuth;
--                  false: none)
--   dns, ip, email, uri   subjectAltName entries
--   name_constraints {permitted = {dns=, ip=}, excluded = {...}}
--   crl_url, ocsp_url     CRL distribution point / OCSP responder URLs
--   extensions     list of {oid = "1.2.3", critical = bool, value = DER bytes}
-- A certificate wolfSSL itself cannot parse (an unknown critical extension) is
-- returned as PEM text rather than a Certificate object.
function M.certificate(t)
  if type(t) ~= "table" then error("bad argument #1 to 'certificate' (table expected)", 2) end
  if not t.subject then error("certificate: 'subject' is required", 2) end
  for _, f in ipairs({ "key", "issuer_key" }) do
    if t[f] ~= nil and not C.is_key(t[f]) then
      error(("certificate: '%s' must be a key from pki.key() or pki.load_key()"):format(f), 2)
    end
  end
  local key = t.key or M.key(t.key_type, t.key_param)
  local issuer_key = t.issuer_key or key
  local subject = M.name(t.subject)
  local issuer_name = subject
  if t.issuer then
    if not t.issuer_key then error("certificate: 'issuer' needs 'issuer_key'", 2) end
    issuer_name = M.tbs_fields(der_of(t.issuer)).subject
  end
  local now = os.time()
  local nb = t.not_before or (now - 300)
  local na = t.not_after or (nb + (t.days or 30) * DAY)
  local hash = t.hash or "sha256"
  local sans = general_names(t)
  local ku = t.key_usage
  if ku == nil then
    if t.ca then ku = { "keyCertSign", "cRLSign" }
    elseif key:type() == "rsa" then ku = { "digitalSignature", "keyEncipherment" }
    else ku = { "digitalSignature" } end
  end
  local eku = t.eku
  if eku == nil and not t.ca then eku = { "serverAuth" } end
  -- wolfSSL wraps the raw names in the Name SEQUENCE itself: hand it the RDNs only
  local tbs, err = C.make_tbs({
    subject = der.content(subject), issuer = der.content(issuer_name), serial = serial_bytes(t.serial),
    not_before = der.time(nb), not_after = der.time(na), hash = hash,
    key = key, issuer_key = issuer_key,
    key_usage = ku and words(ku) or nil, eku = eku and words(eku) or nil,
    alt_names = #sans > 0 and der.seq(sans) or nil,
  })
  if not tbs then error(err, 2) end
  local extra = {}
  if t.name_constraints then extra[#extra + 1] = name_constraints(t.name_constraints) end
  if t.crl_url then extra[#extra + 1] = crl_distribution(t.crl_url) end
  if t.ocsp_url then extra[#extra + 1] = authority_info(t.ocsp_url) end
  for _, e in ipairs(t.extensions or {}) do
    extra[#extra + 1] = extension(e.oid, e.critical, e.value or der.null())
  end
  local front = {}
  if t.basic_constraints ~= false then front[1] = basic_constraints(t.ca, t.path_len) end
  tbs = splice_extensions(tbs, front, extra)
  local cert_der, serr = C.sign_tbs(tbs, hash, issuer_key)
  if not cert_der then error(serr, 2) end
  -- wolfSSL refuses to parse a certificate with an unknown critical extension
  -- (ASN_CRIT_EXT_E), so such a one comes back as PEM text instead of an object.
  return core.certificate(cert_der) or C.pem(cert_der, "CERTIFICATE"), key
end

---------------------------------------------------------------------------------------
-- Signatures for what pki.lua encodes itself (CRLs, OCSP responses)

local SIG_OIDS = {
  ec = { sha256 = "1.2.840.10045.4.3.2", sha384 = "1.2.840.10045.4.3.3",
    sha512 = "1.2.840.10045.4.3.4", sha1 = "1.2.840.10045.4.1" },
  rsa = { sha256 = "1.2.840.113549.1.1.11", sha384 = "1.2.840.113549.1.1.12",
    sha512 = "1.2.840.113549.1.1.13", sha1 = "1.2.840.113549.1.1.5", md5 = "1.2.840.113549.1.1.4" },
}

local function sig_alg(key, hash)
  local oid = SIG_OIDS[key:type()][hash]
  if not oid then error(("no %s signature with a %s key"):format(hash, key:type()), 3) end
  -- RSA algorithm identifiers carry NULL parameters; ECDSA ones none (RFC 5758 3.2)
  return der.seq(der.oid(oid), key:type() == "rsa" and der.null() or "")
end

local function signed(tbs, key, hash)
  return der.seq(tbs, sig_alg(key, hash), der.bits(key:sign(tbs, hash)))
end

-- pki.crl{issuer = Certificate, issuer_key = Key, revoked = {Certificate | serial
-- hex | {serial=, date=}}, this_update=, next_update=, days=, number=, hash=} -> PEM
function M.crl(t)
  if not (t and t.issuer and t.issuer_key) then error("crl: 'issuer' and 'issuer_key' are required", 2) end
  local hash = t.hash or "sha256"
  local now = os.time()
  local this = t.this_update or (now - 300)
  local nxt = t.next_update or (this + (t.days or 30) * DAY)
  local entries = {}
  for _, r in ipairs(t.revoked or {}) do
    local serial, when
    if type(r) == "table" and not r.der then serial, when = r.serial, r.date else serial = r end
    if type(serial) == "userdata" or (type(serial) == "string" and serial:find("-----BEGIN", 1, true)) then
      serial = M.tbs_fields(der_of(serial)).serial
    else
      serial = der.tlv(0x02, der.content(der.int(serial_bytes(serial))))
    end
    entries[#entries + 1] = der.seq(serial, der.time(when or this))
  end
  local issuer = M.tbs_fields(der_of(t.issuer))
  -- authorityKeyIdentifier = the issuer's subjectKeyIdentifier, and a CRL number
  local crl_exts = { der.seq(der.oid("2.5.29.20"), der.octets(der.int(t.number or 1))) }
  local skid = issuer.extensions["2.5.29.14"]
  if skid then
    table.insert(crl_exts, 1, der.seq(der.oid("2.5.29.35"),
      der.octets(der.seq(der.tlv(0x80, der.content(skid.value))))))
  end
  local exts = der.explicit(0, der.seq(unpack(crl_exts)))
  local tbs = der.seq(der.int(1), sig_alg(t.issuer_key, hash), issuer.subject, der.time(this), der.time(nxt),
    #entries > 0 and der.seq(unpack(entries)) or "", exts)
  local crl = signed(tbs, t.issuer_key, hash)
  if t.format == "der" then return crl end
  return C.pem(crl, "X509 CRL")
end

-- pki.ocsp_response{issuer = Certificate, issuer_key = Key, certificate = Certificate,
-- status = "good" | "revoked" | "unknown", revoked_at=, this_update=, next_update=,
-- days=, hash=} -> DER OCSPResponse (RFC 6960 4.2.1), signed by the issuing CA itself,
-- ready to staple (server option ocsp_response).
function M.ocsp_response(t)
  if not (t and t.issuer and t.issuer_key and t.certificate) then
    error("ocsp_response: 'issuer', 'issuer_key' and 'certificate' are required", 2)
  end
  local hash = t.hash or "sha256"
  local now = os.time()
  local this = t.this_update or (now - 300)
  local nxt = t.next_update or (this + (t.days or 7) * DAY)
  local issuer = M.tbs_fields(der_of(t.issuer))
  local cert = M.tbs_fields(der_of(t.certificate))
  local cert_id = der.seq(der.seq(der.oid("1.3.14.3.2.26"), der.null()),
    der.octets(C.digest("sha1", issuer.subject)),
    der.octets(C.digest("sha1", M.public_key_bits(issuer.spki))),
    cert.serial)
  local status = t.status or "good"
  local cert_status
  if status == "good" then cert_status = string.char(0x80, 0)
  elseif status == "revoked" then cert_status = der.tlv(0xa1, der.time(t.revoked_at or this, true))
  elseif status == "unknown" then cert_status = string.char(0x82, 0)
  else error("ocsp_response: status must be good, revoked or unknown", 2) end
  local single = der.seq(cert_id, cert_status, der.time(this, true), der.explicit(0, der.time(nxt, true)))
  local data = der.seq(der.tlv(0xa1, issuer.subject), der.time(now, true), der.seq(single))
  local basic = der.seq(data, sig_alg(t.issuer_key, hash), der.bits(t.issuer_key:sign(data, hash)))
  return der.seq(der.tlv(0x0a, string.char(0)),
    der.explicit(0, der.seq(der.oid("1.3.6.1.5.5.7.48.1.1"), der.octets(basic))))
end

---------------------------------------------------------------------------------------
-- Authorities: a CA certificate with its key, issuing more

local Authority = {}
Authority.__index = Authority
M.Authority = Authority

local function authority(cert, key, parent)
  return setmetatable({ certificate = cert, key = key, parent = parent }, Authority)
end

-- pki.ca{subject=, ...} -> Authority (a self-signed root). Fields as pki.certificate.
function M.ca(t)
  t = t or {}
  local o = {}
  for k, v in pairs(t) do o[k] = v end
  o.subject = o.subject or "CN=lua-wolfssl Test Root"
  o.ca = true
  local cert, key = M.certificate(o)
  return authority(cert, key, nil)
end

-- A copy of t issued by this authority.
function Authority:_spec(t)
  local o = {}
  for k, v in pairs(t or {}) do o[k] = v end
  o.issuer, o.issuer_key = self.certificate, self.key
  return o
end

-- authority:issue{subject=, dns=, ip=, eku=, ...} -> Certificate, Key (a leaf)
function Authority:issue(t)
  local o = self:_spec(t)
  if not o.subject then error("issue: 'subject' is required", 2) end
  return M.certificate(o)
end

-- authority:intermediate{subject=, ...} -> Authority (a CA issued by this one)
function Authority:intermediate(t)
  local o = self:_spec(t)
  o.subject = o.subject or "CN=lua-wolfssl Test Intermediate"
  o.ca = true
  local cert, key = M.certificate(o)
  return authority(cert, key, self)
end

-- The chain a server sends after its leaf: this authority and its parents, up to but
-- not including the root (which the peer must already trust).
function Authority:chain()
  local out, a = {}, self
  while a and a.parent do
    out[#out + 1] = a.certificate
    a = a.parent
  end
  return out
end

function Authority:crl(t)
  local o = self:_spec(t)
  return M.crl(o)
end

function Authority:ocsp_response(t)
  local o = self:_spec(t)
  return M.ocsp_response(o)
end

function Authority:pem() return self.certificate:pem() end

-- Write data to a file (PEM text or DER bytes). Returns path.
function M.write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  return path
end

return M
