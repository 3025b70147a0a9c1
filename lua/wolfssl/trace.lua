-- wolfssl.trace: the TLS handshake as data.
--
-- The C core reports every record and handshake message of a traced connection to
-- on_message(conn, m) (csrc/record.c). This module turns those messages into tables
-- with the field names of RFC 8446 / RFC 5246 (decode), builds them back into bytes
-- (encode: ClientHello and ServerHello, for probes and tests), draws the exchange as a
-- two-column sequence diagram (ladder), and decodes the ClientHello for the server's
-- on_client_hello hook. Names come from the IANA TLS registries.
local core = require "wolfssl.core"

local M = {}

local byte, char, sub, concat = string.byte, string.char, string.sub, table.concat
local floor = math.floor

---------------------------------------------------------------------------------------
-- IANA registries: wolfssl.iana

local iana = require "wolfssl.iana"
local names = iana.names
local HANDSHAKE_TYPES, VERSIONS, CIPHER_SUITES = names.handshake_types, names.versions, names.cipher_suites
local GROUPS, SIGNATURE_SCHEMES, EXTENSIONS = names.groups, names.signature_schemes, names.extensions
local ALERTS, PSK_MODES, EC_POINT_FORMATS = names.alerts, names.psk_key_exchange_modes, names.ec_point_formats
local CERT_TYPES, STATUS_TYPES, KEY_UPDATE = iana.CERT_TYPES, iana.STATUS_TYPES, iana.KEY_UPDATE
local CODES, HRR_RANDOM = iana.codes, iana.HRR_RANDOM
M.names, M.codes, M.is_grease, M.HRR_RANDOM = names, CODES, iana.is_grease, HRR_RANDOM
---------------------------------------------------------------------------------------
-- Reading: every failure names the offset in the message (0 = its first byte)

local Malformed = {}

local Reader = {}
Reader.__index = Reader

local function reader(s, pos, lim) return setmetatable({ s = s, pos = pos or 1, lim = lim or #s }, Reader) end

function Reader:fail(what, at)
  error(setmetatable({ msg = what, offset = (at or self.pos) - 1 }, Malformed), 0)
end

function Reader:need(n, what)
  if self.pos + n - 1 > self.lim then
    self:fail(("%s: %d bytes needed, %d left"):format(what or "truncated", n, self.lim - self.pos + 1))
  end
end

function Reader:left() return self.lim - self.pos + 1 end
function Reader:done() return self.pos > self.lim end

function Reader:u8(what)
  self:need(1, what)
  local v = byte(self.s, self.pos)
  self.pos = self.pos + 1
  return v
end

function Reader:u16(what)
  self:need(2, what)
  local a, b = byte(self.s, self.pos, self.pos + 1)
  self.pos = self.pos + 2
  return a * 256 + b
end

function Reader:u24(what)
  self:need(3, what)
  local a, b, c = byte(self.s, self.pos, self.pos + 2)
  self.pos = self.pos + 3
  return (a * 256 + b) * 256 + c
end

function Reader:u32(what)
  self:need(4, what)
  local a, b, c, d = byte(self.s, self.pos, self.pos + 3)
  self.pos = self.pos + 4
  return ((a * 256 + b) * 256 + c) * 256 + d
end

function Reader:bytes(n, what)
  self:need(n, what)
  local v = sub(self.s, self.pos, self.pos + n - 1)
  self.pos = self.pos + n
  return v
end

function Reader:rest() return self:bytes(self:left()) end

-- A length-prefixed vector as a sub-reader (the parent skips past it).
function Reader:vector(lenbytes, what)
  local n = lenbytes == 1 and self:u8(what) or lenbytes == 2 and self:u16(what) or self:u24(what)
  self:need(n, (what or "vector") .. " is longer than its container")
  local r = reader(self.s, self.pos, self.pos + n - 1)
  self.pos = self.pos + n
  return r
end

function Reader:opaque(lenbytes, what) local r = self:vector(lenbytes, what); return r:rest() end

function Reader:finish(what)
  if not self:done() then self:fail(("%d unexpected bytes after %s"):format(self:left(), what)) end
end

local function named(t, n) return t[n] or n end

-- a list of 8/16-bit codes in a vector of `lenbytes`, named from `names`
local function code_list(r, lenbytes, width, names, what)
  local v, out = r:vector(lenbytes, what), {}
  while not v:done() do out[#out + 1] = named(names, width == 1 and v:u8(what) or v:u16(what)) end
  return out
end

---------------------------------------------------------------------------------------
-- Writing

local function u8(n) return char(n % 256) end
local function u16(n) return char(floor(n / 256) % 256, n % 256) end
local function u24(n) return char(floor(n / 65536) % 256, floor(n / 256) % 256, n % 256) end
local function u32(n) return char(floor(n / 16777216) % 256, floor(n / 65536) % 256, floor(n / 256) % 256, n % 256) end
local function vec(lenbytes, s)
  local max = lenbytes == 1 and 0xFF or lenbytes == 2 and 0xFFFF or 0xFFFFFF
  if #s > max then error(("value of %d bytes does not fit a %d-byte length"):format(#s, lenbytes), 0) end
  return (lenbytes == 1 and u8 or lenbytes == 2 and u16 or u24)(#s) .. s
end

local function code_of(kind, v, what)
  if type(v) == "number" then return v end
  local n = CODES[kind] and CODES[kind][v]
  if not n then error(("unknown %s '%s'"):format(what or kind, tostring(v)), 0) end
  return n
end

local function encode_codes(list, kind, width, lenbytes, what)
  local out = {}
  for i, v in ipairs(list or {}) do out[i] = (width == 1 and u8 or u16)(code_of(kind, v, what)) end
  return vec(lenbytes, concat(out))
end

local function bytes_of(v, what)
  if type(v) ~= "string" then error(("%s must be a string (got %s)"):format(what, type(v)), 0) end
  return v
end

-- wolfSSL's generator (wolfssl.random): reseeded after fork, never math.random
local random_bytes = core.random
M.random_bytes = random_bytes

---------------------------------------------------------------------------------------
-- Extensions: by type, a decoder (reader of the extension_data, context) and an encoder
-- (value, context). ctx is the message type the extension is in. A decoder that cannot
-- represent its bytes exactly returns nil, and the raw bytes are kept.

local function empty_ext(r) r:finish("an empty extension"); return true end
local function empty_enc() return "" end
local function bytes_ext(lenbytes)
  return { decode = function(r) local v = r:opaque(lenbytes); r:finish("the extension"); return v end,
    encode = function(v, _, what) return vec(lenbytes, bytes_of(v, what)) end }
end

local EXT = {}

EXT[0] = { -- server_name (RFC 6066 3)
  decode = function(r, ctx)
    if ctx ~= "client_hello" then return empty_ext(r) end
    local v, out = r:vector(2, "server_name_list"), {}
    while not v:done() do
      local t, name = v:u8(), v:opaque(2, "host_name")
      out[#out + 1] = t == 0 and name or { name_type = t, name = name }
    end
    r:finish("server_name_list")
    return out
  end,
  encode = function(v, ctx)
    if ctx ~= "client_hello" then return "" end
    if type(v) == "string" then v = { v } end
    local out = {}
    for i, n in ipairs(v) do
      if type(n) == "table" then out[i] = u8(n.name_type) .. vec(2, n.name)
      else out[i] = "\0" .. vec(2, bytes_of(n, "server_name")) end
    end
    return vec(2, concat(out))
  end,
}
EXT[1] = { decode = function(r) local v = r:u8(); r:finish("max_fragment_length"); return v end,
  encode = function(v) return u8(v) end }
EXT[5] = { -- status_request (RFC 6066 8; RFC 8446 4.4.2.1 in a certificate entry)
  decode = function(r, ctx)
    if r:done() then return true end
    local t = named(STATUS_TYPES, r:u8())
    if ctx == "certificate" then
      local v = { status_type = t, response = r:opaque(3, "OCSPResponse") }
      r:finish("CertificateStatus")
      return v
    end
    local v = { status_type = t, responder_id_list = r:opaque(2), request_extensions = r:opaque(2) }
    r:finish("CertificateStatusRequest")
    return v
  end,
  encode = function(v, ctx)
    if v == true then return "" end
    local t = code_of("status_types", v.status_type or "ocsp", "status type")
    if ctx == "certificate" then return u8(t) .. vec(3, v.response or "") end
    return u8(t) .. vec(2, v.responder_id_list or "") .. vec(2, v.request_extensions or "")
  end,
}
EXT[10] = { -- supported_groups (RFC 8446 4.2.7)
  decode = function(r) local v = code_list(r, 2, 2, GROUPS, "named_group_list"); r:finish("named_group_list"); return v end,
  encode = function(v) return encode_codes(v, "groups", 2, 2, "group") end,
}
EXT[11] = { -- ec_point_formats (RFC 8422 5.1.2)
  decode = function(r) local v = code_list(r, 1, 1, EC_POINT_FORMATS, "ec_point_format_list"); r:finish("ec_point_format_list"); return v end,
  encode = function(v) return encode_codes(v, "ec_point_formats", 1, 1, "point format") end,
}
local sigalgs = {
  decode = function(r) local v = code_list(r, 2, 2, SIGNATURE_SCHEMES, "supported_signature_algorithms"); r:finish("supported_signature_algorithms"); return v end,
  encode = function(v) return encode_codes(v, "signature_schemes", 2, 2, "signature scheme") end,
}
EXT[13], EXT[50] = sigalgs, sigalgs
EXT[16] = { -- application_layer_protocol_negotiation (RFC 7301 3.1)
  decode = function(r)
    local v, out = r:vector(2, "protocol_name_list"), {}
    while not v:done() do out[#out + 1] = v:opaque(1, "ProtocolName") end
    r:finish("protocol_name_list")
    return out
  end,
  encode = function(v)
    if type(v) == "string" then v = { v } end
    local out = {}
    for i, p in ipairs(v) do out[i] = vec(1, bytes_of(p, "ALPN protocol")) end
    return vec(2, concat(out))
  end,
}
EXT[21] = { -- padding (RFC 7685): zeros; the number of them
  decode = function(r) local v = r:rest(); return not v:find("[^%z]") and #v or nil end,
  encode = function(v) return ("\0"):rep(v) end,
}
EXT[22], EXT[23], EXT[49] = { decode = empty_ext, encode = empty_enc }, { decode = empty_ext, encode = empty_enc },
  { decode = empty_ext, encode = empty_enc }
EXT[28] = { decode = function(r) local v = r:u16(); r:finish("record_size_limit"); return v end,
  encode = function(v) return u16(v) end }
EXT[35] = { decode = function(r) return r:rest() end, encode = function(v) return bytes_of(v, "session_ticket") end }
EXT[41] = { -- pre_shared_key (RFC 8446 4.2.11)
  decode = function(r, ctx)
    if ctx ~= "client_hello" then
      local v = { selected_identity = r:u16() }
      r:finish("selected_identity")
      return v
    end
    local ids, binders, out = r:vector(2, "identities"), r:vector(2, "binders"), { identities = {}, binders = {} }
    while not ids:done() do
      out.identities[#out.identities + 1] = { identity = ids:opaque(2, "identity"), obfuscated_ticket_age = ids:u32() }
    end
    while not binders:done() do out.binders[#out.binders + 1] = binders:opaque(1, "PskBinderEntry") end
    r:finish("OfferedPsks")
    return out
  end,
  encode = function(v, ctx)
    if ctx ~= "client_hello" then return u16(v.selected_identity) end
    local ids, bs = {}, {}
    for i, id in ipairs(v.identities or {}) do ids[i] = vec(2, id.identity) .. u32(id.obfuscated_ticket_age or 0) end
    for i, b in ipairs(v.binders or {}) do bs[i] = vec(1, b) end
    return vec(2, concat(ids)) .. vec(2, concat(bs))
  end,
}
EXT[42] = { -- early_data (RFC 8446 4.2.10)
  decode = function(r, ctx)
    if ctx == "new_session_ticket" then
      local v = { max_early_data_size = r:u32() }
      r:finish("max_early_data_size")
      return v
    end
    return empty_ext(r)
  end,
  encode = function(v, ctx) return ctx == "new_session_ticket" and u32(v.max_early_data_size) or "" end,
}
EXT[43] = { -- supported_versions (RFC 8446 4.2.1)
  decode = function(r, ctx)
    local v
    if ctx == "client_hello" then v = code_list(r, 1, 2, VERSIONS, "versions") else v = named(VERSIONS, r:u16()) end
    r:finish("supported_versions")
    return v
  end,
  encode = function(v, ctx)
    if ctx == "client_hello" then return encode_codes(v, "versions", 2, 1, "version") end
    return u16(code_of("versions", v, "version"))
  end,
}
EXT[44] = bytes_ext(2) -- cookie (RFC 8446 4.2.2)
EXT[45] = { -- psk_key_exchange_modes (RFC 8446 4.2.9)
  decode = function(r) local v = code_list(r, 1, 1, PSK_MODES, "ke_modes"); r:finish("ke_modes"); return v end,
  encode = function(v) return encode_codes(v, "psk_key_exchange_modes", 1, 1, "PSK mode") end,
}
EXT[47] = { -- certificate_authorities (RFC 8446 4.2.4): DER names
  decode = function(r)
    local v, out = r:vector(2, "authorities"), {}
    while not v:done() do out[#out + 1] = v:opaque(2, "DistinguishedName") end
    r:finish("authorities")
    return out
  end,
  encode = function(v)
    local out = {}
    for i, dn in ipairs(v) do out[i] = vec(2, dn) end
    return vec(2, concat(out))
  end,
}
EXT[51] = { -- key_share (RFC 8446 4.2.8)
  decode = function(r, ctx)
    local v
    if ctx == "client_hello" then
      local list = r:vector(2, "client_shares")
      v = {}
      while not list:done() do
        v[#v + 1] = { group = named(GROUPS, list:u16()), key_exchange = list:opaque(2, "key_exchange") }
      end
    elseif ctx == "hello_retry_request" then
      v = { selected_group = named(GROUPS, r:u16()) }
    else
      v = { group = named(GROUPS, r:u16()), key_exchange = r:opaque(2, "key_exchange") }
    end
    r:finish("key_share")
    return v
  end,
  encode = function(v, ctx)
    if ctx == "client_hello" then
      local out = {}
      for i, e in ipairs(v) do out[i] = u16(code_of("groups", e.group, "group")) .. vec(2, e.key_exchange or "") end
      return vec(2, concat(out))
    elseif ctx == "hello_retry_request" then
      return u16(code_of("groups", v.selected_group, "group"))
    end
    return u16(code_of("groups", v.group, "group")) .. vec(2, v.key_exchange or "")
  end,
}
EXT[0xFF01] = bytes_ext(1) -- renegotiation_info (RFC 5746 3.2)

local function decode_extensions(r, ctx, required)
  local list = {}
  if r:done() and not required then return list end -- TLS 1.2 messages may omit the block
  local v = r:vector(2, "extensions")
  while not v:done() do
    local at = v.pos
    local t = v:u16("extension type")
    local data = v:vector(2, "extension_data")
    local entry = { type = t, name = EXTENSIONS[t], bytes = sub(data.s, data.pos, data.lim) }
    local codec = EXT[t]
    if codec then
      local ok, value = pcall(codec.decode, data, ctx)
      if not ok then
        if getmetatable(value) == Malformed then
          value.msg = ("extension %s: %s"):format(entry.name or t, value.msg)
          error(value, 0)
        end
        v:fail(("extension %s: %s"):format(entry.name or t, tostring(value)), at)
      end
      entry.value = value
      if entry.name then list[entry.name] = value end
    end
    list[#list + 1] = entry
  end
  return list
end

local function encode_extensions(list, ctx)
  local out = {}
  for i, e in ipairs(list or {}) do
    local t = e.type or CODES.extensions[e.name]
    if not t then error(("unknown extension '%s'"):format(tostring(e.name)), 0) end
    local data
    if e.value ~= nil and EXT[t] then data = EXT[t].encode(e.value, ctx, e.name or tostring(t))
    else data = bytes_of(e.bytes or "", "extension bytes") end
    out[i] = u16(t) .. vec(2, data)
  end
  return vec(2, concat(out))
end

M.decode_extensions = function(bytes, ctx)
  local ok, r = pcall(decode_extensions, reader(bytes), ctx)
  if ok then return r end
  return nil, getmetatable(r) == Malformed and ("malformed extensions: %s at offset %d"):format(r.msg, r.offset) or tostring(r)
end

---------------------------------------------------------------------------------------
-- Messages (RFC 8446 4, RFC 5246 7.4). Each decoder reads the body; version is the
-- negotiated version when known ("TLSv1.3" | "TLSv1.2" | nil).

local DEC = {}

DEC.client_hello = function(r, t)
  t.legacy_version = r:u16("legacy_version")
  t.random = r:bytes(32, "random")
  t.session_id = r:opaque(1, "session_id")
  t.cipher_suites = code_list(r, 2, 2, CIPHER_SUITES, "cipher_suites")
  t.compression_methods = {}
  local cm = r:vector(1, "compression_methods")
  while not cm:done() do t.compression_methods[#t.compression_methods + 1] = cm:u8() end
  t.extensions = decode_extensions(r, "client_hello")
  r:finish("the extensions")
  -- what a hook asks most, without walking the extensions
  local x = t.extensions
  t.server_name = x.server_name and type(x.server_name[1]) == "string" and x.server_name[1] or nil
  t.alpn = x.alpn
  t.versions = x.supported_versions or { named(VERSIONS, t.legacy_version) }
end

local function server_hello(r, t)
  t.legacy_version = r:u16("legacy_version")
  t.random = r:bytes(32, "random")
  local hrr = t.random == HRR_RANDOM
  t.type = hrr and "hello_retry_request" or "server_hello"
  t.session_id = r:opaque(1, "session_id")
  t.cipher_suite = named(CIPHER_SUITES, r:u16("cipher_suite"))
  t.compression_method = r:u8("compression_method")
  t.extensions = decode_extensions(r, t.type)
  r:finish("the extensions")
  t.version = t.extensions.supported_versions or named(VERSIONS, t.legacy_version)
end
DEC.server_hello, DEC.hello_retry_request = server_hello, server_hello

DEC.encrypted_extensions = function(r, t)
  t.extensions = decode_extensions(r, "encrypted_extensions")
  r:finish("the extensions")
end

local function certificate_entry(der, entry)
  entry.cert_data = der
  entry.certificate = core.certificate(der) -- nil when it does not parse
  return entry
end

DEC.certificate = function(r, t, version)
  if version ~= "TLSv1.2" and (version == "TLSv1.3" or r:left() >= 4 and byte(r.s, r.pos) + 4 <= r:left()) then
    -- TLS 1.3: a request context, then entries with extensions. Without a version,
    -- try 1.3 first and fall back to 1.2's plain list.
    local pos = r.pos
    local ok, err = pcall(function()
      t.certificate_request_context = r:opaque(1, "certificate_request_context")
      local list = r:vector(3, "certificate_list")
      t.certificate_list = {}
      while not list:done() do
        local der = list:opaque(3, "cert_data")
        t.certificate_list[#t.certificate_list + 1] = certificate_entry(der, { extensions = decode_extensions(list, "certificate", true) })
      end
      r:finish("certificate_list")
    end)
    if ok or version == "TLSv1.3" then
      if not ok then error(err, 0) end
      return
    end
    r.pos, t.certificate_request_context, t.certificate_list = pos, nil, nil
  end
  local list = r:vector(3, "certificate_list")
  t.certificate_list = {}
  while not list:done() do t.certificate_list[#t.certificate_list + 1] = certificate_entry(list:opaque(3, "ASN.1Cert"), {}) end
  r:finish("certificate_list")
end

DEC.certificate_request = function(r, t, version)
  local function tls13()
    t.certificate_request_context = r:opaque(1, "certificate_request_context")
    t.extensions = decode_extensions(r, "certificate_request")
    r:finish("the extensions")
  end
  local function tls12()
    t.certificate_types = code_list(r, 1, 1, CERT_TYPES, "certificate_types")
    t.supported_signature_algorithms = code_list(r, 2, 2, SIGNATURE_SCHEMES, "supported_signature_algorithms")
    local cas = r:vector(2, "certificate_authorities")
    t.certificate_authorities = {}
    while not cas:done() do t.certificate_authorities[#t.certificate_authorities + 1] = cas:opaque(2, "DistinguishedName") end
    r:finish("certificate_authorities")
  end
  if version == "TLSv1.3" then return tls13() elseif version == "TLSv1.2" then return tls12() end
  local pos = r.pos
  if pcall(tls13) then return end
  r.pos, t.certificate_request_context, t.extensions = pos, nil, nil
  tls12()
end

local function signed(r, t)
  t.algorithm = named(SIGNATURE_SCHEMES, r:u16("SignatureScheme"))
  t.signature = r:opaque(2, "signature")
end

DEC.server_key_exchange = function(r, t)
  -- the key exchange is the suite's: recognised by shape (ECDHE, else DHE, else raw)
  local pos = r.pos
  local ok = pcall(function()
    local curve_type = r:u8()
    if curve_type ~= 3 then error("not a named curve") end
    t.curve_type = "named_curve"
    t.named_curve = named(GROUPS, r:u16())
    t.public = r:opaque(1, "ECPoint")
    signed(r, t)
    r:finish("ServerKeyExchange")
  end)
  if ok then return end
  for k in pairs({ curve_type = 1, named_curve = 1, public = 1, algorithm = 1, signature = 1 }) do t[k] = nil end
  r.pos = pos
  ok = pcall(function()
    t.dh_p, t.dh_g, t.dh_Ys = r:opaque(2), r:opaque(2), r:opaque(2)
    signed(r, t)
    r:finish("ServerKeyExchange")
  end)
  if ok then return end
  for k in pairs({ dh_p = 1, dh_g = 1, dh_Ys = 1, algorithm = 1, signature = 1 }) do t[k] = nil end
  r.pos = pos
  t.params = r:rest()
end

DEC.server_hello_done = function(r) r:finish("ServerHelloDone") end
DEC.hello_request = DEC.server_hello_done
DEC.end_of_early_data = DEC.server_hello_done

DEC.client_key_exchange = function(r, t)
  local n = r:left()
  if n >= 1 and byte(r.s, r.pos) == n - 1 then t.ecdh_Yc = r:opaque(1)
  elseif n >= 2 and byte(r.s, r.pos) * 256 + byte(r.s, r.pos + 1) == n - 2 then t.exchange_keys = r:opaque(2)
  else t.exchange_keys = r:rest() end
end

DEC.certificate_verify = function(r, t)
  signed(r, t)
  r:finish("CertificateVerify")
end

DEC.finished = function(r, t) t.verify_data = r:rest() end

DEC.new_session_ticket = function(r, t, version)
  local pos = r.pos
  if version ~= "TLSv1.2" then
    local ok, err = pcall(function()
      t.ticket_lifetime = r:u32("ticket_lifetime")
      t.ticket_age_add = r:u32("ticket_age_add")
      t.ticket_nonce = r:opaque(1, "ticket_nonce")
      t.ticket = r:opaque(2, "ticket")
      t.extensions = decode_extensions(r, "new_session_ticket")
      r:finish("the extensions")
    end)
    if ok then return end
    if version == "TLSv1.3" then error(err, 0) end
    r.pos = pos
    for k in pairs({ ticket_lifetime = 1, ticket_age_add = 1, ticket_nonce = 1, ticket = 1, extensions = 1 }) do t[k] = nil end
  end
  t.ticket_lifetime_hint = r:u32("ticket_lifetime_hint")
  t.ticket = r:opaque(2, "ticket")
  r:finish("NewSessionTicket")
end

DEC.key_update = function(r, t)
  t.request_update = named(KEY_UPDATE, r:u8("request_update"))
  r:finish("KeyUpdate")
end

DEC.certificate_status = function(r, t)
  t.status_type = named(STATUS_TYPES, r:u8())
  t.response = r:opaque(3, "OCSPResponse")
  r:finish("CertificateStatus")
end

DEC.message_hash = function(r, t) t.hash = r:rest() end

local function decode_message(s, version)
  local r = reader(s)
  local ht = r:u8("msg_type")
  local len = r:u24("length")
  if r:left() ~= len then
    r:fail(("length says %d bytes, %d present"):format(len, r:left()))
  end
  local t = { type = HANDSHAKE_TYPES[ht] or "unknown_handshake", handshake_type = ht, length = len }
  local dec = DEC[t.type]
  if dec then dec(r, t, version) else t.body = r:rest() end
  return t
end

-- decode(m [, version]) -> table | nil, message. m is an on_message event or the bytes of
-- one handshake message (header included).
function M.decode(m, version)
  local s = m
  if type(m) == "table" then
    version = version or m.version
    if m.encrypted then return nil, ("%s is encrypted (not opened)"):format(m.type or "message") end
    if m.error then return nil, "malformed: " .. m.error end
    if m.type == "alert" then return { type = "alert", level = m.level, description = m.description, alert = m.alert } end
    if m.type == "change_cipher_spec" then return { type = m.type } end
    if m.type == "application_data" or m.type == "heartbeat" then return { type = m.type, length = m.length } end
    s = m.bytes
  end
  if type(s) ~= "string" then return nil, "nothing to decode (expected handshake message bytes)" end
  local ok, t = pcall(decode_message, s, version)
  if ok then return t end
  if getmetatable(t) == Malformed then
    local what = #s >= 1 and HANDSHAKE_TYPES[byte(s, 1)] or "handshake message"
    return nil, ("malformed %s: %s at offset %d"):format(what, t.msg, t.offset)
  end
  return nil, "cannot decode: " .. tostring(t)
end

---------------------------------------------------------------------------------------
-- Encoding: ClientHello and ServerHello / HelloRetryRequest from tables shaped like
-- decode's output; decode(encode(t)) gives t back.

local ENC = {}

ENC.client_hello = function(t)
  local cm = {}
  for i, c in ipairs(t.compression_methods or { 0 }) do cm[i] = u8(c) end
  return u16(t.legacy_version or 0x0303) .. (t.random or random_bytes(32))
    .. vec(1, t.session_id or "") .. encode_codes(t.cipher_suites, "cipher_suites", 2, 2, "cipher suite")
    .. vec(1, concat(cm)) .. encode_extensions(t.extensions, "client_hello")
end

local function encode_server_hello(t)
  local hrr = t.type == "hello_retry_request"
  local random = hrr and HRR_RANDOM or t.random or random_bytes(32)
  return u16(t.legacy_version or 0x0303) .. random .. vec(1, t.session_id or "")
    .. u16(code_of("cipher_suites", t.cipher_suite, "cipher suite")) .. u8(t.compression_method or 0)
    .. encode_extensions(t.extensions, hrr and "hello_retry_request" or "server_hello")
end
ENC.server_hello, ENC.hello_retry_request = encode_server_hello, encode_server_hello

-- encode(t) -> bytes of one handshake message | nil, message
function M.encode(t)
  if type(t) ~= "table" then return nil, "expected a table" end
  local enc = ENC[t.type]
  if not enc then return nil, ("cannot encode '%s' (client_hello, server_hello, hello_retry_request)"):format(tostring(t.type)) end
  local ok, body = pcall(enc, t)
  if not ok then return nil, tostring(body) end
  if #body > 0xFFFFFF then return nil, "message too long" end
  return u8(CODES.handshake_types[t.type == "hello_retry_request" and "server_hello" or t.type]) .. u24(#body) .. body
end

-- record(content_type, payload [, version]) -> TLS records carrying payload (RFC 8446 5.1:
-- fragments of at most 2^14 bytes). content_type: a number or "handshake" | "alert" | ...
local CONTENT = { change_cipher_spec = 20, alert = 21, handshake = 22, application_data = 23 }
function M.record(content, payload, version)
  local ct = CONTENT[content] or content
  local out, i = {}, 1
  repeat
    local frag = sub(payload, i, i + 16383)
    out[#out + 1] = u8(ct) .. u16(version or 0x0301) .. vec(2, frag)
    i = i + 16384
  until i > #payload
  return concat(out)
end

-- alert(description [, level]) -> the two bytes of an alert (names or numbers)
function M.alert(description, level)
  local lv = level == "warning" and 1 or level == "fatal" and 2 or level or 2
  return u8(lv) .. u8(code_of("alerts", description, "alert"))
end

-- records(bytes) -> list of plaintext messages, bytes consumed. Splits records and
-- reassembles handshake messages, as on_message reports them (for probes and tests on
-- bytes that did not go through a connection).
function M.records(s)
  local out, pos, hs = {}, 1, ""
  while pos + 4 <= #s do
    local ct, len = byte(s, pos), byte(s, pos + 3) * 256 + byte(s, pos + 4)
    if pos + 4 + len > #s then break end
    local frag = sub(s, pos + 5, pos + 4 + len)
    local rv = byte(s, pos + 1) * 256 + byte(s, pos + 2)
    pos = pos + 5 + len
    if ct == 22 then
      hs = hs .. frag
      while #hs >= 4 do
        local n = 4 + (byte(hs, 2) * 256 + byte(hs, 3)) * 256 + byte(hs, 4)
        if #hs < n then break end
        local msg = sub(hs, 1, n)
        hs = sub(hs, n + 1)
        local ht = byte(msg, 1)
        local name = HANDSHAKE_TYPES[ht] or "unknown_handshake"
        if ht == 2 and sub(msg, 7, 38) == HRR_RANDOM then name = "hello_retry_request" end
        out[#out + 1] = { type = name, content_type = 22, handshake_type = ht, record_version = rv, bytes = msg, length = n - 4 }
      end
    elseif ct == 21 and #frag == 2 then
      out[#out + 1] = { type = "alert", content_type = 21, record_version = rv, bytes = frag, length = 2,
        level = byte(frag, 1) == 1 and "warning" or "fatal", description = ALERTS[byte(frag, 2)] or byte(frag, 2),
        alert = byte(frag, 2) }
    elseif ct == 20 then
      out[#out + 1] = { type = "change_cipher_spec", content_type = 20, record_version = rv, bytes = frag, length = #frag }
    else
      out[#out + 1] = { type = ct == 23 and "application_data" or "unknown", content_type = ct, record_version = rv, length = #frag }
    end
  end
  return out, pos - 1
end

-- client_hello{...} -> a ClientHello table for encode, with the usual extensions filled
-- in (what a probe or a test needs; every field can still be edited afterwards):
--   versions = {"TLSv1.3", "TLSv1.2"}, cipher_suites = {...}, groups = {...},
--   key_shares = {"x25519"} (groups to send a share for: only x25519 and x448 keys can be
--   made up, as random bytes; {} sends none, which asks a TLS 1.3 server for a
--   HelloRetryRequest), server_name = "host", alpn = {...}, signature_algorithms = {...},
--   extensions = {more entries, appended}
M.DEFAULT_PROBE_SUITES = {
  "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
  "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
  "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
  "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}
M.DEFAULT_SIGNATURE_SCHEMES = {
  "ecdsa_secp256r1_sha256", "ecdsa_secp384r1_sha384", "ecdsa_secp521r1_sha512", "ed25519", "ed448",
  "rsa_pss_rsae_sha256", "rsa_pss_rsae_sha384", "rsa_pss_rsae_sha512", "rsa_pss_pss_sha256",
  "rsa_pkcs1_sha256", "rsa_pkcs1_sha384", "rsa_pkcs1_sha512",
}
local SHARE_SIZES = { x25519 = 32, x448 = 56 }

function M.client_hello(o)
  o = o or {}
  -- the context's spellings ("tls1.3") are taken too, as wolfssl.context takes IANA's
  local SPELLINGS = { ["tls1.3"] = "TLSv1.3", ["tls1.2"] = "TLSv1.2" }
  local versions = {}
  for i, v in ipairs(o.versions or { "TLSv1.3", "TLSv1.2" }) do versions[i] = SPELLINGS[v] or v end
  local tls13, tls12 = false, false
  for _, v in ipairs(versions) do
    if v == "TLSv1.3" or v == 0x0304 then tls13 = true
    elseif CODES.versions[v] or type(v) == "number" then tls12 = true
    else error(("unknown version '%s' (\"TLSv1.3\", \"TLSv1.2\", ... or a number)"):format(tostring(v)), 2) end
  end
  local groups = o.groups or { "x25519", "secp256r1", "secp384r1" }
  local x = {}
  local function add(name, value) x[#x + 1] = { name = name, value = value } end
  if o.server_name then add("server_name", { o.server_name }) end
  add("supported_groups", groups)
  if tls12 then add("ec_point_formats", { "uncompressed" }) end
  add("signature_algorithms", o.signature_algorithms or M.DEFAULT_SIGNATURE_SCHEMES)
  if o.alpn then add("alpn", o.alpn) end
  if tls13 then
    add("supported_versions", versions)
    add("psk_key_exchange_modes", { "psk_dhe_ke" })
    local shares = {}
    for _, g in ipairs(o.key_shares or { groups[1] }) do
      local n = SHARE_SIZES[g]
      if not n then error(("cannot make up a key share for '%s' (only x25519, x448)"):format(tostring(g)), 2) end
      local key = random_bytes(n)
      -- an X25519 u-coordinate has 255 bits (RFC 7748 5); wolfSSL refuses one with the
      -- top bit set instead of masking it
      if g == "x25519" then key = sub(key, 1, 31) .. char(byte(key, 32) % 128) end
      shares[#shares + 1] = { group = g, key_exchange = key }
    end
    add("key_share", shares)
  end
  add("extended_master_secret", true)
  add("renegotiation_info", "")
  for _, e in ipairs(o.extensions or {}) do x[#x + 1] = e end
  return {
    type = "client_hello", legacy_version = 0x0303, random = random_bytes(32),
    session_id = tls13 and random_bytes(32) or "", cipher_suites = o.cipher_suites or M.DEFAULT_PROBE_SUITES,
    compression_methods = { 0 }, extensions = x,
  }
end

---------------------------------------------------------------------------------------
-- The ClientHello hook (csrc/hello.c calls this): decode, call the hook, say what it
-- decided. true = go on | wolfssl.PAUSE | false, alert number.

function M._hello_dispatch(conn, fn, bytes)
  local hello = M.decode(bytes)
  if not hello then return true end -- not decodable: wolfSSL answers it with its own alert
  local r, alert = fn(conn, hello)
  if r == core.PAUSE then return r end
  if r == false then
    if alert == nil then return false, 40 end -- handshake_failure
    local code = type(alert) == "number" and alert or CODES.alerts[alert]
    if not code or code < 0 or code > 255 then
      error(("on_client_hello returned an unknown alert '%s'"):format(tostring(alert)), 0)
    end
    return false, code
  end
  -- the same rule as the other callbacks: a value that is not an answer is a mistake
  if r ~= nil and r ~= true then
    error(("on_client_hello must return nil, true, false or wolfssl.PAUSE (got %s)"):format(type(r)), 0)
  end
  return true
end

---------------------------------------------------------------------------------------
-- The ladder and attach(): wolfssl.ladder

local ladder = require "wolfssl.ladder"
M.ladder, M.ladder_line, M.ladder_header = ladder.ladder, ladder.ladder_line, ladder.ladder_header
M.attach, M.TITLES = ladder.attach, ladder.TITLES


return M
