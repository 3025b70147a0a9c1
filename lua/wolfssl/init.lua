-- lua-wolfssl: TLS contexts and connections over the system wolfSSL.
--
-- The C core (wolfssl.core) loads bytes and flips switches; this file decides: which
-- options exist, what they default to and why, how a value is read (path or data), and
-- what a connection needs before its first byte. Adding an option is one entry in
-- `options` below.
local core = require "wolfssl.core"

local M = {
  PAUSE = core.PAUSE,
  core = core,
  _VERSION = "lua-wolfssl scm",
  wolfssl_version = core.wolfssl_version,
  certificate = core.certificate,
  certificates = core.certificates,
  alert_name = core.alert_name,
  verify_error = core.verify_error,
}

local Context, Connection = core.Context, core.Connection

-- Settings that live in Lua, per context (weak: they go with the context).
local settings = setmetatable({}, { __mode = "k" })

---------------------------------------------------------------------------------------
-- Defaults, each with its reason.

-- The distribution's wolfSSL compiles in RC4, 3DES, NULL and integrity-only suites
-- (wolfssl-notes.md, build facts), so every context sets an explicit list: AEAD suites
-- with forward secrecy only, TLS 1.3 first.
M.DEFAULT_CIPHERS = table.concat({
  "TLS13-AES128-GCM-SHA256", "TLS13-CHACHA20-POLY1305-SHA256", "TLS13-AES256-GCM-SHA384",
  "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
  "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
}, ":")

-- A server picks the suite by its own order (wolfSSL's default, measured), so its order
-- decides what every connection pays for bulk data. This wolfSSL has no AES-NI
-- (wolfssl-notes.md item 12): bench/ W3 measured ChaCha20-Poly1305 at about twice the
-- throughput of AES-128-GCM on both ends, at the same handshake cost. A server therefore
-- prefers ChaCha20; a client keeps AES-GCM first, as most servers it meets have AES-NI
-- and choose by their own order anyway.
M.DEFAULT_SERVER_CIPHERS = table.concat({
  "TLS13-CHACHA20-POLY1305-SHA256", "TLS13-AES128-GCM-SHA256", "TLS13-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
  "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
}, ":")

-- X25519 first: it is the fastest key exchange in this wolfSSL build (item 12) and the
-- first group is the one a TLS 1.3 client sends a key share for.
M.DEFAULT_GROUPS = { "X25519", "P-256", "P-384" }

-- TLS 1.2 is the oldest version still considered safe (RFC 8996 deprecates 1.0/1.1).
M.DEFAULT_MIN_VERSION = "tls1.2"
M.DEFAULT_MAX_VERSION = "tls1.3"

local VERSIONS = {
  ["tls1.2"] = 0x0303, ["tls1.3"] = 0x0304, ["TLSv1.2"] = 0x0303, ["TLSv1.3"] = 0x0304,
}

-- IANA TLS Supported Groups registry numbers, by the names scripts use.
M.GROUPS = {
  ["P-256"] = 23, ["P-384"] = 24, ["P-521"] = 25, X25519 = 29, X448 = 30,
  secp256r1 = 23, secp384r1 = 24, secp521r1 = 25, x25519 = 29, x448 = 30,
  prime256v1 = 23, ffdhe2048 = 256, ffdhe3072 = 257,
}

---------------------------------------------------------------------------------------
-- Helpers

local function suggest(name, candidates)
  -- the nearest valid name by edit distance, for "did you mean" messages
  local best, bestd = nil, 4
  for cand in pairs(candidates) do
    local a, b = name, cand
    local prev = {}
    for j = 0, #b do prev[j] = j end
    for i = 1, #a do
      local cur = { [0] = i }
      for j = 1, #b do
        local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
        cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      end
      prev = cur
    end
    if prev[#b] < bestd then best, bestd = cand, prev[#b] end
  end
  return best
end
M._suggest = suggest

local function check_names(t, known, what, level)
  for k in pairs(t) do
    if not known[k] then
      local hint = type(k) == "string" and suggest(k, known)
      error(("unknown %s '%s'%s"):format(what, tostring(k),
        hint and (" (did you mean '" .. hint .. "'?)") or ""), level + 1)
    end
  end
end

local function bad_option(name, expected, got, level)
  error(("bad option '%s': expected %s (got %s)"):format(name, expected,
    type(got) == "string" and ("'" .. got .. "'") or type(got)), level + 1)
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local data, rerr = f:read("*a")
  f:close()
  if not data then return nil, path .. ": " .. tostring(rerr) end
  return data
end
M._read_file = read_file

local function list_of(v)
  if type(v) == "table" and getmetatable(v) == nil then return v end
  return { v }
end

-- A value that is certificate/key material: PEM text, DER bytes, a Certificate, or
-- a path to a file holding PEM or DER. Returns bytes, "pem"|"der".
local function material(v, what)
  if type(v) == "userdata" and v.pem then return v:pem(), "pem" end
  if v:find("-----BEGIN", 1, true) then return v, "pem" end
  local kind = core.stat(v)
  if kind == "file" then
    local data, err = read_file(v)
    if not data then return nil, ("cannot read %s: %s"):format(what, err) end
    return data, data:find("-----BEGIN", 1, true) and "pem" or "der"
  end
  -- DER starts with a SEQUENCE tag and a long-form length
  if v:byte(1) == 0x30 and (v:byte(2) or 0) >= 0x81 then return v, "der" end
  local _, err = core.stat(v)
  return nil, ("cannot open %s: %s"):format(what, err or (v .. " is not a regular file"))
end
M._material = material

-- A certificate chain (leaf first) from one value or a list of them: bytes, "pem"|"der".
local function chain_material(v)
  local parts, fmt = {}, nil
  for _, x in ipairs(list_of(v)) do
    local data, f = material(x, "certificate")
    if not data then return nil, f end
    if fmt and f ~= fmt then return nil, "cannot mix PEM and DER certificates in one chain" end
    fmt, parts[#parts + 1] = f, data
  end
  return table.concat(parts, fmt == "pem" and "\n" or ""), fmt
end
M._chain_material = chain_material

local function is_ip(name)
  return name:find(":", 1, true) ~= nil or name:match("^%d+%.%d+%.%d+%.%d+$") ~= nil
end
M._is_ip = is_ip

---------------------------------------------------------------------------------------
-- Options: name -> { check = fn(value) (raises on a wrong type), apply = fn(ctx, value,
-- all options) -> true | nil, message }. Applied in `order`.

local options = {}
local order = {}
M._options = options

local function option(name, spec)
  options[name] = spec
  order[#order + 1] = name
end
M._option = option

local function is_type(ty) return function(v, name) if type(v) ~= ty then bad_option(name, ty, v, 4) end end end
local function is_string(v, name) if type(v) ~= "string" then bad_option(name, "a string", v, 4) end end
local function one_of(...)
  local set, list = {}, table.concat({ ... }, ", ")
  for _, k in ipairs({ ... }) do set[k] = true end
  return function(v, name) if not set[v] then bad_option(name, "one of " .. list, v, 4) end end
end
local function is_material(v, name)
  if type(v) ~= "string" and not (type(v) == "userdata" and v.pem) then
    bad_option(name, "a path, PEM/DER data or a Certificate", v, 4)
  end
end
local function is_string_list(v, name)
  if type(v) == "string" then return end
  if type(v) ~= "table" then bad_option(name, "a string or a list of strings", v, 4) end
  for _, s in ipairs(v) do if type(s) ~= "string" then bad_option(name, "a list of strings", s, 4) end end
end

option("role", { check = one_of("client", "server"), apply = function() return true end })

option("min_version", { check = one_of("tls1.2", "tls1.3", "TLSv1.2", "TLSv1.3") })
option("max_version", {
  check = one_of("tls1.2", "tls1.3", "TLSv1.2", "TLSv1.3"),
  apply = function(ctx, _, o)
    local min = VERSIONS[o.min_version or M.DEFAULT_MIN_VERSION]
    local max = VERSIONS[o.max_version or M.DEFAULT_MAX_VERSION]
    if min > max then return nil, "min_version is newer than max_version" end
    return ctx:set_versions(min, max)
  end,
  always = true,
})

option("ciphers", {
  check = is_string,
  apply = function(ctx, v, o)
    local default = o.role == "server" and M.DEFAULT_SERVER_CIPHERS or M.DEFAULT_CIPHERS
    -- PSK contexts also need TLS 1.2 PSK suites (session.lua: DEFAULT_PSK_CIPHERS)
    if not v and (o.psk or o.on_psk) then v = default .. ":" .. M.DEFAULT_PSK_CIPHERS end
    return ctx:set_ciphers(v or default)
  end,
  always = true,
})

option("groups", {
  check = function(v, name)
    is_string_list(v, name)
    for _, g in ipairs(list_of(v)) do
      if not M.GROUPS[g] then
        local hint = suggest(g, M.GROUPS)
        error(("bad option 'groups': unknown group '%s'%s"):format(g,
          hint and (" (did you mean '" .. hint .. "'?)") or ""), 4)
      end
    end
  end,
  apply = function(ctx, v, o)
    -- wolfSSL's TLS 1.2 ECDHE-PSK client makes its key on its own first group, not the
    -- server's choice: X25519 first fails against a P-256 server (session.lua)
    if not v and o.psk and VERSIONS[o.min_version or M.DEFAULT_MIN_VERSION] == 0x0303 then
      v = M.DEFAULT_PSK_GROUPS
    end
    local ids = {}
    for _, g in ipairs(list_of(v or M.DEFAULT_GROUPS)) do ids[#ids + 1] = M.GROUPS[g] end
    return ctx:set_groups(ids)
  end,
  always = true,
})

option("certificate", {
  check = function(v, name)
    if type(v) == "table" then for _, x in ipairs(v) do is_material(x, name) end
    else is_material(v, name) end
  end,
  apply = function(ctx, v)
    -- a list is leaf first, then its chain; each element may be a path, data or object
    local data, fmt = chain_material(v)
    if not data then return nil, fmt end
    return ctx:use_certificate(data, fmt)
  end,
})

option("password", {
  check = function(v, name)
    if type(v) ~= "string" and type(v) ~= "function" then bad_option(name, "a string or a function", v, 4) end
  end,
})

option("key", {
  check = is_material,
  apply = function(ctx, v, o)
    local data, fmt = material(v, "key")
    if not data then return nil, fmt end
    return ctx:use_key(data, fmt, o.password)
  end,
})

option("verify", { check = one_of("none", "peer", "required") })
option("verify_depth", { check = is_type("number") })
option("check_hostname", { check = is_type("boolean") })

option("ca", {
  check = function(v, name)
    if type(v) == "table" then for _, x in ipairs(v) do is_material(x, name) end
    else is_material(v, name) end
  end,
  apply = function(ctx, v)
    for _, x in ipairs(list_of(v)) do
      local ok, err
      if x == "system" then
        ok, err = ctx:load_system_ca()
      elseif type(x) == "string" and not x:find("-----BEGIN", 1, true) and core.stat(x) == "directory" then
        ok, err = ctx:load_ca_dir(x)
      else
        local data, fmt = material(x, "CA")
        if not data then return nil, fmt end
        ok, err = ctx:load_ca(data, fmt)
      end
      if not ok then return nil, err end
    end
    return true
  end,
})

option("alpn", {
  check = function(v, name)
    is_string_list(v, name)
    for _, p in ipairs(list_of(v)) do
      if #p == 0 or #p > 255 or p:find(",", 1, true) then
        error(("bad option '%s': bad protocol name '%s'"):format(name, p), 4)
      end
    end
  end,
  -- a client offers its list per connection; a server chooses from it, its own order
  -- first, and refuses a client it shares none with (RFC 7301 3.2)
  apply = function(ctx, v)
    if ctx:role() == "server" then return ctx:set_server_alpn(table.concat(list_of(v), ",")) end
    return true
  end,
})

option("server_name", { check = is_string })

-- Callbacks: on_* options are stored with the context; later issues register more.
-- `install(ctx)`, if given, switches on what the callback needs in the C core (it runs
-- for the option and for ctx:on alike) and returns true | nil, message.
-- `context_only`: wolfSSL calls it through a hook of the context (PSK, ticket keys,
-- the session store), so a connection's own handler of that name would never run.
M._handlers = {}
M._context_only = {}
function M._handler(name, install, context_only)
  M._handlers[name] = install or true
  if context_only then M._context_only[name] = true end
  option(name, { check = is_type("function"), apply = function(ctx, fn)
    ctx:set_handler(name, fn)
    if type(install) == "function" then return install(ctx) end
    return true
  end })
end

-- The handshake as data (trace.lua, csrc/record.c): every record and handshake message
-- of a connection, and the server's hook on the decoded ClientHello (csrc/hello.c).
-- Both are decided when the connection's first handshake()/read()/write() starts.
M._handler("on_message")
M._handler("on_client_hello")

---------------------------------------------------------------------------------------
-- wolfssl.context{...}

function M.context(opts)
  if type(opts) ~= "table" then error("bad argument #1 to 'context' (table expected, got " .. type(opts) .. ")", 2) end
  check_names(opts, options, "option", 2)
  if opts.role == nil then error("option 'role' is required (\"client\" or \"server\")", 2) end
  for name, v in pairs(opts) do options[name].check(v, name) end

  local role = opts.role
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  -- secure by default: a client verifies against the system store and checks names
  if o.verify == nil then o.verify = role == "client" and "peer" or "none" end
  if role == "client" and o.verify ~= "none" and o.ca == nil then o.ca = "system" end
  if o.check_hostname == nil then o.check_hostname = role == "client" and o.verify ~= "none" end
  if o.key and not o.certificate then return nil, "a key was given without a certificate" end
  if o.certificate and not o.key then return nil, "a certificate was given without its key" end

  local ctx = core.new_context(role)
  for _, name in ipairs(order) do
    local spec = options[name]
    if spec.apply and (o[name] ~= nil or spec.always) then
      local ok, err = spec.apply(ctx, o[name], o)
      if not ok then return nil, err end
    end
  end
  ctx:set_verify(o.verify, o.verify_depth)
  settings[ctx] = {
    role = role, verify = o.verify, check_hostname = o.check_hostname,
    alpn = o.alpn and table.concat(list_of(o.alpn), ","), server_name = o.server_name,
  }
  return ctx
end

function Context:on(name, fn)
  if not M._handlers[name] then
    local hint = suggest(tostring(name), M._handlers)
    error(("unknown callback '%s'%s"):format(tostring(name), hint and (" (did you mean '" .. hint .. "'?)") or ""), 2)
  end
  if fn ~= nil and type(fn) ~= "function" then error("bad argument #2 to 'on' (function expected)", 2) end
  self:set_handler(name, fn)
  local install = M._handlers[name]
  if fn and type(install) == "function" then
    local ok, err = install(self)
    if not ok then error(err, 2) end
  end
  return self
end

function Context:settings() return settings[self] end

-- conn:on(name, fn): a callback for this connection only, in place of its context's.
function Connection:on(name, fn)
  if not M._handlers[name] then
    local hint = suggest(tostring(name), M._handlers)
    error(("unknown callback '%s'%s"):format(tostring(name), hint and (" (did you mean '" .. hint .. "'?)") or ""), 2)
  end
  if M._context_only[name] then
    error(("%s can only be set on a context: wolfSSL calls it through the context"):format(name), 2)
  end
  if fn ~= nil and type(fn) ~= "function" then error("bad argument #2 to 'on' (function expected)", 2) end
  self:set_handler(name, fn)
  return self
end

---------------------------------------------------------------------------------------
-- ctx:connection{server_name=, fd=, alpn=}

local connection_options = { server_name = true, fd = true, alpn = true }
M._connection_options = connection_options
M._connection_setup = {} -- later issues: functions(conn, opts, settings, ctx) run in order

function Context:connection(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("bad argument #1 to 'connection' (table expected)", 2) end
  check_names(opts, connection_options, "connection option", 2)
  -- LuaSocket's getfd() gives a float under Lua 5.3+: any integral number will do
  if opts.fd ~= nil and (type(opts.fd) ~= "number" or opts.fd % 1 ~= 0 or opts.fd < 0) then
    error("bad option 'fd': expected a file descriptor number", 2)
  end
  if opts.server_name ~= nil and type(opts.server_name) ~= "string" then error("bad option 'server_name': expected a string", 2) end
  local s = settings[self]
  local conn = self:new_connection(opts.fd)
  local name = opts.server_name or s.server_name
  if s.role == "client" then
    local check = s.check_hostname and s.verify ~= "none"
    if name then
      local host = name:match("^%[(.*)%]$") or name
      -- RFC 6066 3: literal IP addresses are not sent as SNI
      conn:set_server_name(host, not is_ip(host), check)
    elseif check then
      error("server_name is required when the context checks host names "
        .. "(pass server_name=..., or check_hostname = false in the context)", 2)
    end
    local alpn = opts.alpn and table.concat(list_of(opts.alpn), ",") or s.alpn
    if alpn then conn:set_alpn(alpn) end
  end
  for _, setup in ipairs(M._connection_setup) do
    local ok, err = setup(conn, opts, s, self)
    if not ok then conn:close(); return nil, err end
  end
  return conn
end


-- conn:use_certificate(chain, key [, password]): this connection's own certificate,
-- given as for the context options (path, PEM/DER data, Certificate or list, leaf first).
function Connection:use_certificate(chain, key, password)
  is_material(type(chain) == "table" and chain[1] or chain, "certificate")
  is_material(key, "key")
  local cdata, cfmt = chain_material(chain)
  if not cdata then return nil, cfmt end
  local kdata, kfmt = material(key, "key")
  if not kdata then return nil, kfmt end
  return self:use_certificate_raw(cdata, cfmt, kdata, kfmt, password)
end

---------------------------------------------------------------------------------------

-- verification policy, revocation, client certificates
require("wolfssl.verify")(M)
-- server decisions, sessions, key material
require("wolfssl.session")(M)

M.pair = require("wolfssl.pair").pair
M.trace = require "wolfssl.trace"
M.Context, M.Connection, M.Certificate = Context, Connection, core.Certificate

-- The drivers load on first use: wolfssl.socket and wolfssl.https need LuaSocket,
-- wolfssl.ngx needs OpenResty; `require "wolfssl"` needs neither.
local DRIVERS = { socket = true, https = true, ngx = true }
setmetatable(M, { __index = function(t, k)
  if DRIVERS[k] then
    local mod = require("wolfssl." .. k)
    rawset(t, k, mod)
    return mod
  end
end })

return M
