-- wolfssl.socket: LuaSec's API over LuaSocket, on lua-wolfssl.
--
-- A script written for LuaSec runs with only its require changed:
--
--   local ssl = require "wolfssl.socket"      -- was: require "ssl"
--   local conn = assert(ssl.wrap(tcp, { mode = "client", protocol = "any",
--     verify = "peer", cafile = "ca.pem" }))
--   assert(conn:dohandshake())
--
-- Same parameter names (mode, protocol, key, certificate, password, cafile, capath,
-- verify, options, ciphers, ciphersuites, curve, curveslist, alpn, depth), same methods,
-- same return conventions: dohandshake() -> true | false, "wantread" / "wantwrite" /
-- "closed" / message; receive(pattern [, prefix]) -> data | nil, err, partial;
-- send(data [, i [, j]]) -> last index | nil, err, last index sent.
--
-- Extensions (see README): connect(host, port, params); params.checkhost (check the
-- name given to sni() against the certificate; on by default in connect() and in
-- wolfssl.https); params.transport = "fd" (default: wolfSSL calls recv/send on the
-- socket's descriptor, in C) or "memory" (this file moves the bytes with LuaSocket's
-- send/receive: the sans-I/O path); a third return value from dohandshake(), the
-- lua-wolfssl error code.
local socket = require "socket"
local wolfssl = require "wolfssl"
local trace = require "wolfssl.trace"
local buffer = require "wolfssl.buffer"
local core = wolfssl.core

local M = {
  _VERSION = "1.2.0",   -- the LuaSec API level this module follows
  _COPYRIGHT = "lua-wolfssl (LuaSec-compatible driver) over wolfSSL " .. wolfssl.wolfssl_version,
  loadcertificate = wolfssl.certificate,
}

local CHUNK = 16384 -- one TLS record of plaintext: the unit of a write

-- What this driver supports, in LuaSec's ssl.config shape.
M.config = {
  protocols = { any = true, tlsv1_2 = true, tlsv1_3 = true },
  algorithms = { ec = true },
  capabilities = { alpn = true, curves_list = true },
  options = {},
  verify = { none = true, peer = true, client_once = true, fail_if_no_peer_cert = true },
}

---------------------------------------------------------------------------------------
-- newcontext(params): LuaSec parameter names onto wolfssl.context options.

local PROTOCOLS = {
  -- LuaSec's "any"/"sslv23" mean "the best both sides have"; TLS < 1.2 is not offered
  -- here at all (RFC 8996), so they are TLS 1.2 .. 1.3.
  any = { "tls1.2", "tls1.3" }, sslv23 = { "tls1.2", "tls1.3" },
  tlsv1_2 = { "tls1.2", "tls1.2" }, tlsv1_3 = { "tls1.3", "tls1.3" },
}

-- LuaSec/OpenSSL option names. Those that name what this library always does (no SSL
-- 2/3, TLS 1.0/1.1, compression or renegotiation) are accepted and change nothing.
local OPTIONS = {
  all = true, no_sslv2 = true, no_sslv3 = true, no_tlsv1 = true, no_tlsv1_1 = true,
  no_compression = true, single_ecdh_use = true, single_dh_use = true,
  cipher_server_preference = true, no_renegotiation = true, no_session_resumption_on_renegotiation = true,
  no_ticket = true, no_tlsv1_2 = true, no_tlsv1_3 = true, no_query_mtu = true,
  allow_unsafe_legacy_renegotiation = true, legacy_server_connect = true,
  tls_rollback_bug = true, dont_insert_empty_fragments = true,
  microsoft_sess_id_bug = true, netscape_challenge_bug = true, sslref2_reuse_cert_type_bug = true,
  microsoft_big_sslv3_buffer = true, ssleay_080_client_dh_bug = true, tls_d5_bug = true,
  tls_block_padding_bug = true, no_anti_replay = true, no_encrypt_then_mac = true,
  enable_middlebox_compat = true, prioritize_chacha = true, ignore_unexpected_eof = true,
}
for k in pairs(OPTIONS) do M.config.options[k] = true end

local function list(v)
  if v == nil then return {} end
  if type(v) == "table" then return v end
  return { v }
end

-- An OpenSSL cipher string ("ALL:!aNULL:@STRENGTH", "ECDHE-RSA-AES128-GCM-SHA256:...")
-- cannot be interpreted by wolfSSL, which has weak suites compiled in (wolfssl-notes.md,
-- build facts). Keep the concrete suite names wolfSSL knows; if none are left (the string
-- was only keywords), keep the library's safe default list.
local function cipher_list(ciphers, suites)
  local known = {}
  for name in core.ciphers():gmatch("[^:]+") do known[name] = true end
  local out = {}
  for _, s in ipairs({ ciphers or "", suites or "" }) do
    for tok in s:gmatch("[^:, ]+") do
      if known[tok] or tok:match("^TLS_") then out[#out + 1] = tok end
    end
  end
  if #out == 0 then return nil end
  return table.concat(out, ":")
end

local function group_list(curve, curveslist)
  local names = {}
  for tok in (curveslist or curve or ""):gmatch("[^:, ]+") do
    if not wolfssl.GROUPS[tok] then return nil, "invalid curve (" .. tok .. ")" end
    names[#names + 1] = tok
  end
  return #names > 0 and names or nil
end

local LContext = {}
LContext.__index = LContext
M.Context = LContext

function LContext:__tostring() return "SSL context (lua-wolfssl): " .. tostring(self.context) end
function LContext:getmode() return self.mode end

local verify_store = setmetatable({}, { __mode = "k" }) -- conn -> errors per depth (lsec_continue)

function M.newcontext(cfg)
  if type(cfg) ~= "table" then error("bad argument #1 to 'newcontext' (table expected, got " .. type(cfg) .. ")", 2) end
  local mode = cfg.mode
  if mode ~= "client" and mode ~= "server" then return nil, "invalid mode" end
  local versions = PROTOCOLS[cfg.protocol or "any"]
  if not versions then return nil, "invalid protocol (" .. tostring(cfg.protocol) .. ")" end
  local minv, maxv = versions[1], versions[2]

  local o = { role = mode }
  for _, opt in ipairs(list(cfg.options)) do
    if not OPTIONS[opt] then return nil, "invalid option (" .. tostring(opt) .. ")" end
    if opt == "no_tlsv1_2" then minv = "tls1.3" end
    if opt == "no_tlsv1_3" then maxv = "tls1.2" end
    if opt == "no_ticket" then o.tickets = false end
  end
  if minv == "tls1.3" and maxv == "tls1.2" then return nil, "no protocol left (both TLS 1.2 and 1.3 disabled)" end
  o.min_version, o.max_version = minv, maxv

  -- verify: "none" | "peer" | "client_once" | "fail_if_no_peer_cert", or a list
  local flags = {}
  for _, f in ipairs(list(cfg.verify)) do
    if not M.config.verify[f] then return nil, "invalid verify option (" .. tostring(f) .. ")" end
    flags[f] = true
  end
  local peer = flags.peer or flags.fail_if_no_peer_cert
  if mode == "client" then
    o.verify = peer and "peer" or "none"
  else
    o.verify = flags.fail_if_no_peer_cert and "required" or (peer and "peer" or "none")
  end
  -- LuaSec checks no host names; here the name given to sni() (and the host of
  -- connect()/https) is checked when asked to.
  local checkhost = cfg.checkhost == true and o.verify ~= "none"
  o.check_hostname = checkhost

  if cfg.cafile or cfg.capath then
    o.ca = {}
    if cfg.cafile then o.ca[#o.ca + 1] = cfg.cafile end
    if cfg.capath then o.ca[#o.ca + 1] = cfg.capath end
  end
  -- a verifying client with no CA named gets the system store (wolfssl.context default)

  local cert = cfg.certificates and cfg.certificates[1] or cfg
  if cert.password ~= nil and type(cert.password) ~= "string" and type(cert.password) ~= "function" then
    return nil, "invalid password type"
  end
  o.certificate, o.key, o.password = cert.certificate, cert.key, cert.password
  if cfg.certificates and #cfg.certificates > 1 then
    return nil, "several certificates per context are not supported (use one context per certificate and sni())"
  end

  o.ciphers = cipher_list(cfg.ciphers, cfg.ciphersuites)
  local groups, gerr = group_list(cfg.curve, cfg.curveslist)
  if gerr then return nil, gerr end
  o.groups = groups
  if cfg.depth ~= nil then
    if type(cfg.depth) ~= "number" then return nil, "invalid depth" end
    o.verify_depth = cfg.depth
  end

  local server_alpn
  if cfg.alpn ~= nil then
    if type(cfg.alpn) == "function" and mode == "server" then
      server_alpn = cfg.alpn
    elseif type(cfg.alpn) == "string" or type(cfg.alpn) == "table" then
      for _, p in ipairs(list(cfg.alpn)) do
        if type(p) ~= "string" then return nil, "invalid ALPN parameter" end
        if #p == 0 then return nil, "invalid ALPN name (empty string)" end
        if #p > 255 then return nil, "invalid ALPN name (length > 255)" end
      end
      if #list(cfg.alpn) == 0 then return nil, "invalid ALPN list (empty)" end
      if mode == "client" then o.alpn = cfg.alpn else server_alpn = list(cfg.alpn) end
    else
      return nil, "invalid ALPN parameter"
    end
  end

  local continue = false
  for _, e in ipairs(list(cfg.verifyext)) do
    if e == "lsec_continue" then
      continue = true
    elseif e ~= "lsec_ignore_purpose" and e ~= "crl_check" and e ~= "crl_check_chain" then
      return nil, "invalid verify extension (" .. tostring(e) .. ")"
    end
  end
  if continue then
    -- LuaSec's "verify but do not enforce": record each failure, accept, and report
    -- it from getpeerverification()
    o.on_verify = function(conn, v)
      if not v.ok then
        local t = verify_store[conn] or {}
        verify_store[conn] = t
        local d = v.depth or 0
        t[d] = t[d] or {}
        table.insert(t[d], v.message or v.error)
      end
      return true
    end
  end

  local ctx, err = wolfssl.context(o)
  if not ctx then return nil, err end
  return setmetatable({ context = ctx, mode = mode, checkhost = checkhost,
    transport = cfg.transport or "fd", server_alpn = server_alpn, params = cfg }, LContext)
end

---------------------------------------------------------------------------------------
-- The connection object: wrap(sock, ctx_or_params [, {transport=}])

local SSL = {}
SSL.__index = SSL
M.SSL = SSL

function SSL:__tostring()
  return ("SSL connection (lua-wolfssl, %s): %s%s"):format(self.transport,
    tostring(self.sock), self.state == "closed" and " (closed)" or "")
end

function M.wrap(sock, cfg, opts)
  if type(sock) ~= "table" and type(sock) ~= "userdata" or not sock.getfd then
    error("bad argument #1 to 'wrap' (LuaSocket TCP object expected, got " .. type(sock) .. ")", 2)
  end
  local lctx, err
  if getmetatable(cfg) == LContext then
    lctx = cfg
  elseif type(cfg) == "table" then
    lctx, err = M.newcontext(cfg)
    if not lctx then return nil, err end
  elseif getmetatable(cfg) and getmetatable(cfg).__index == wolfssl.Context then
    local s = cfg:settings()
    lctx = setmetatable({ context = cfg, mode = s.role, checkhost = s.check_hostname, transport = "fd" }, LContext)
  else
    error("bad argument #2 to 'wrap' (context or parameter table expected, got " .. type(cfg) .. ")", 2)
  end
  local transport = opts and opts.transport or lctx.transport
  if transport ~= "fd" and transport ~= "memory" then
    error("bad transport '" .. tostring(transport) .. "' (\"fd\" or \"memory\")", 2)
  end
  local fd = sock:getfd()
  if not fd or fd < 0 then return nil, "closed" end
  return setmetatable({
    sock = sock, lctx = lctx, mode = lctx.mode, transport = transport,
    state = "new", rbuf = buffer.new(), outq = "", timeout = nil, wants = "nothing",
    received = 0, sent = 0, birth = socket.gettime(),
    hello = lctx.server_alpn and lctx.mode == "server" and "" or nil, -- see hello_select
  }, SSL)
end

local function gc_sentinel(fn)
  if newproxy then -- Lua 5.1 / LuaJIT: tables have no __gc
    local p = newproxy(true)
    getmetatable(p).__gc = function() pcall(fn) end
    return p
  end
  return setmetatable({}, { __gc = function() pcall(fn) end })
end

-- The core Connection is made at the first handshake step, once sni() had its chance.
local function connection(self)
  if self.conn then return self.conn end
  local host = self.servername
  if self.mode == "client" and self.lctx.checkhost and not host then
    error("checkhost needs the server name: call conn:sni(name) before dohandshake()", 3)
  end
  local conn = self.lctx.context:connection({
    fd = self.transport == "fd" and self.sock:getfd() or nil,
    server_name = self.mode == "client" and host or nil,
  })
  self.conn = conn
  if self.transport == "fd" then conn:settimeout(self.timeout) end
  -- Like LuaSec, a wrapper dropped without close() still says close_notify. The
  -- sentinel is made after the Connection so its finalizer runs first.
  self.sentinel = gc_sentinel(function() self:close() end)
  return conn
end

local function deadline_of(self)
  return self.timeout and (socket.gettime() + self.timeout) or nil
end

local function left(deadline)
  if not deadline then return nil end
  local l = deadline - socket.gettime()
  return l > 0 and l or 0
end

-- memory transport: bytes to the socket, within the deadline
local function mem_flush(self, deadline)
  local out = self.outq .. self.conn:take()
  self.outq = ""
  local pos = 1
  while pos <= #out do
    self.sock:settimeout(left(deadline))
    local last, err, partial = self.sock:send(out, pos)
    if last then
      pos = last + 1
    else
      pos = (partial or pos - 1) + 1
      if err ~= "timeout" then self.outq = ""; return nil, err end
      self.outq = out:sub(pos)
      return nil, "timeout"
    end
  end
  return true
end

-- memory transport: bytes from the socket (whatever is there), within the deadline
local function mem_fill(self, deadline)
  local r = socket.select({ self.sock }, nil, left(deadline))
  if #r == 0 then return nil, "timeout" end
  self.sock:settimeout(0)
  local data, err, partial = self.sock:receive(65536)
  data = data or partial
  if data and #data > 0 then self.conn:feed(data) end
  if err == "closed" then self.conn:feed_eof() end
  if err and err ~= "timeout" and err ~= "closed" then return nil, err end
  return true
end

-- One driving call (handshake/read/write/shutdown) on either transport, with the
-- wrapper's timeout. Returns what the core returns.
local function call(self, method, arg, deadline)
  local conn = self.conn
  if self.transport == "fd" then
    conn:settimeout(left(deadline))
    return conn[method](conn, arg)
  end
  while true do
    if #self.outq > 0 then
      local ok, err = mem_flush(self, deadline)
      if not ok then return nil, err, err == "timeout" and "wantwrite" or "io" end
    end
    local r1, r2, r3 = conn[method](conn, arg)
    local ok, err = mem_flush(self, deadline)
    if not ok and err ~= "timeout" then return nil, err, "io" end
    -- a result stands even when the socket could not take all its bytes yet: they wait
    -- in outq and go out first in the next call
    if r1 ~= nil or r3 ~= "wantread" then return r1, r2, r3 end
    if not ok then return nil, "wantwrite", "wantwrite" end
    local filled, ferr = mem_fill(self, deadline)
    if not filled then
      if ferr == "timeout" then return nil, "wantread", "wantread" end
      return nil, ferr, "io"
    end
  end
end

-- LuaSec's words for an outcome: wantread / wantwrite / closed, or the message.
local function lsec_error(self, err, code, dir)
  if code == "timeout" then code = dir == "write" and "wantwrite" or "wantread" end
  self.wants = code == "wantread" and "read" or code == "wantwrite" and "write" or "nothing"
  if code == "wantread" or code == "wantwrite" or code == "closed" then return code end
  return err
end

-- Decrypted bytes already in the connection (and, with the memory transport, whole
-- records already taken off the socket) go into the wrapper's buffer, so dirty() and a
-- select() loop see them.
local function drain(self)
  local conn = self.conn
  if self.transport == "fd" then conn:settimeout(0) end
  local parts = {}
  while true do
    local d, err, code = conn:read()
    if not d then
      if code ~= "wantread" and code ~= "timeout" then self.rerr = { err, code } end
      break
    end
    parts[#parts + 1] = d
    self.received = self.received + #d
  end
  if #parts > 0 then self.rbuf:append(table.concat(parts)) end
  if self.transport == "memory" and #self.outq + (conn:pending()) > 0 then mem_flush(self, socket.gettime()) end
end

---------------------------------------------------------------------------------------
-- Handshake

-- What a server needs from the client's first flight before wolfSSL sees it: the
-- ClientHello, decoded by wolfssl.trace (server_name, RFC 6066 3; alpn, RFC 7301 3.1).
-- nil while it is incomplete, false if the bytes are not a ClientHello.
local MAX_HELLO = 4 * (5 + 16384) -- no client sends a ClientHello of more records
local function parse_hello(b)
  if #b < 5 then return nil end
  if b:byte(1) ~= 22 then return false end
  local m = trace.records(b)[1]
  if not m then return #b <= MAX_HELLO and nil end
  return m.type == "client_hello" and trace.decode(m) or false
end

-- A server with an sni() map or an ALPN list/function reads the ClientHello first,
-- chooses the context by name and the protocol by its own preference (as OpenSSL's
-- callbacks do for LuaSec), then hands the bytes to the connection, whose input buffer
-- is read before the socket.
local function hello_select(self, deadline)
  while true do
    local hello = parse_hello(self.hello)
    if hello ~= nil then break end
    local r = socket.select({ self.sock }, nil, left(deadline))
    if #r == 0 then return nil, "wantread", "wantread" end
    self.sock:settimeout(0)
    local data, err, partial = self.sock:receive(65536)
    self.hello = self.hello .. (data or partial or "")
    if err == "closed" then return nil, "closed", "closed" end
  end
  local hello = parse_hello(self.hello) or {}
  local name = hello.server_name
  local chosen = name and self.sni_map and self.sni_map[name]
  if chosen then
    self.conn:use_context(getmetatable(chosen) == LContext and chosen.context or chosen)
  elseif name and self.sni_strict then
    -- the alert a server sends for a name it does not serve (RFC 6066 3), in the clear:
    -- nothing has been negotiated yet
    self.sock:settimeout(0)
    self.sock:send("\21\3\3\0\2\2\112")
    self.conn:close()
    self.conn, self.state = nil, "closed"
    return nil, ("handshake failed: no certificate for server name '%s' (sent alert unrecognized_name)"):format(name),
      "handshake_failed"
  end
  local alpn = chosen and getmetatable(chosen) == LContext and chosen.server_alpn or self.lctx.server_alpn
  local offered_alpn = hello.alpn or {}
  if alpn and #offered_alpn > 0 then
    local pick
    if type(alpn) == "function" then
      pick = alpn(offered_alpn)
      if type(pick) == "table" then alpn, pick = pick, nil end
    end
    if not pick and type(alpn) == "table" then
      local offered = {}
      for _, p in ipairs(offered_alpn) do offered[p] = true end
      for _, p in ipairs(alpn) do if offered[p] then pick = p; break end end
    end
    if type(pick) == "string" and #pick > 0 and not pick:find(",", 1, true) then self.conn:set_alpn(pick) end
  end
  self.conn:feed(self.hello)
  self.hello, self.sni_map = nil, nil
  return true
end

function SSL:dohandshake()
  if self.state == "closed" then return false, "closed", "closed" end
  if self.state == "connected" then return true end
  local conn = connection(self)
  local deadline = deadline_of(self)
  if self.hello then
    local ok, err, code = hello_select(self, deadline)
    if not ok then return false, lsec_error(self, err, code, "read"), code end
  end
  local ok, err, code = call(self, "handshake", nil, deadline)
  if ok then
    self.state, self.wants = "connected", "nothing"
    drain(self)
    return true
  end
  return false, lsec_error(self, err, code, "read"), code
end

---------------------------------------------------------------------------------------
-- Data

-- More plaintext into the buffer (one record's worth or more). true | nil, err, code
local function fill(self, deadline)
  if self.rerr then return nil, self.rerr[1], self.rerr[2] end
  local d, err, code = call(self, "read", nil, deadline)
  if not d then
    if code ~= "wantread" and code ~= "timeout" and code ~= "wantwrite" then self.rerr = { err, code } end
    return nil, err, code
  end
  self.rbuf:append(d)
  self.received = self.received + #d
  drain(self)
  return true
end

-- receive([pattern [, prefix]]): "*l"/"l" (a line, LF-terminated, CRs dropped), "*a"/"a"
-- (until the peer closes), a number of bytes. LuaSocket's buffer rules (wolfssl.buffer).
function SSL:receive(pattern, prefix)
  pattern = pattern or "*l"
  prefix = prefix or ""
  local kind = buffer.kind(pattern)
  if not kind then error("bad argument #1 to 'receive' (invalid receive pattern)", 2) end
  if self.state ~= "connected" then return nil, "closed", prefix end
  local deadline = deadline_of(self)
  -- LuaSocket counts the prefix in a number pattern: receive(5, "ab") reads 3 bytes
  local want = kind == "n" and math.max(math.floor(pattern) - #prefix, 0)
  local data, partial, err, code = self.rbuf:receive(kind, want, function() return fill(self, deadline) end)
  if data then return prefix .. data, nil, nil end
  -- "*a" ends well at the close if it got anything (LuaSocket's recvall)
  if kind == "a" and code == "closed" and #partial > 0 then return prefix .. partial, nil, nil end
  return nil, lsec_error(self, err, code, "read"), prefix .. partial
end

-- send(data [, i [, j]]) -> index of the last byte sent | nil, err, last index sent
function SSL:send(data, i, j)
  if type(data) ~= "string" and type(data) ~= "number" then
    error("bad argument #1 to 'send' (string expected, got " .. type(data) .. ")", 2)
  end
  data = tostring(data)
  local len = #data
  i, j = i or 1, j or -1
  if i < 0 then i = math.max(len + i + 1, 1) elseif i == 0 then i = 1 end
  if j < 0 then j = len + j + 1 elseif j > len then j = len end
  if self.state ~= "connected" then return nil, "closed", (i - 1) * 1.0 end
  local deadline = deadline_of(self)
  local pos = i
  while pos <= j do
    local chunk = data:sub(pos, math.min(j, pos + CHUNK - 1))
    local n, err, code = call(self, "write", chunk, deadline)
    if not n then return nil, lsec_error(self, err, code, "write"), (pos - 1) * 1.0 end
    pos = pos + n
    self.sent = self.sent + n
    if self.transport == "memory" and #self.outq > 0 then
      -- accepted, but the socket is full: the caller waits for writability
      self.wants = "write"
      return nil, "wantwrite", (pos - 1) * 1.0
    end
  end
  self.wants = "nothing"
  -- a float, as LuaSocket's lua_pushnumber gives it (20.0 under Lua 5.3+)
  return (j < i and i - 1 or j) * 1.0, nil, nil
end

function SSL:settimeout(t, mode)
  if t ~= nil and type(t) ~= "number" then error("bad argument #1 to 'settimeout' (number expected)", 2) end
  if mode ~= nil and mode ~= "b" and mode ~= "t" and mode ~= "r" then
    error("bad argument #2 to 'settimeout' (invalid timeout mode)", 2)
  end
  if t == nil or t < 0 then self.timeout = nil else self.timeout = t end
  if self.conn and self.transport == "fd" and self.state ~= "closed" then self.conn:settimeout(self.timeout) end
  return 1
end

-- close(): our close_notify (without waiting for the peer's: LuaSec does the same),
-- then the connection and the socket.
function SSL:close()
  if self.state == "closed" then return end
  if self.conn and self.state == "connected" then
    pcall(function()
      if self.transport == "fd" then self.conn:settimeout(0) end
      self.conn:shutdown()
      if self.transport == "memory" then mem_flush(self, socket.gettime()) end
    end)
  end
  if self.conn then self.conn:close() end
  self.sock:close()
  self.state = "closed"
end

function SSL:getfd() return self.sock:getfd() end
function SSL:setfd() error("setfd is not supported: wrap() a connected socket instead", 2) end
function SSL:dirty() return self.state ~= "closed" and self.rbuf:avail() > 0 end
function SSL:want() return self.state == "closed" and "nothing" or self.wants end

function SSL:getstats() return self.received, self.sent, socket.gettime() - self.birth end
function SSL:setstats(r, s, a)
  self.received, self.sent = r or self.received, s or self.sent
  if a then self.birth = socket.gettime() - a end
  return 1
end

---------------------------------------------------------------------------------------
-- What the connection knows

-- sni(name) on a client: the server name to send (and to check, with checkhost).
-- sni({[name] = ctx, ...} [, strict]) on a server: the context to use per name; strict
-- refuses other names with the alert unrecognized_name.
function SSL:sni(arg, strict)
  if self.mode == "client" then
    if type(arg) ~= "string" then error("bad argument #1 to 'sni' (string expected, got " .. type(arg) .. ")", 2) end
    self.servername = arg
    if self.conn then
      local host = arg:match("^%[(.*)%]$") or arg
      self.conn:set_server_name(host, not wolfssl._is_ip(host), self.lctx.checkhost)
    end
  else
    if type(arg) ~= "table" then error("bad argument #1 to 'sni' (table expected, got " .. type(arg) .. ")", 2) end
    for k, v in pairs(arg) do
      if type(k) ~= "string" or (getmetatable(v) ~= LContext and not (getmetatable(v) and getmetatable(v).__index == wolfssl.Context)) then
        error("bad argument #1 to 'sni' (map of server name -> context expected)", 2)
      end
    end
    self.sni_map, self.sni_strict = arg, strict and true or false
    self.hello = self.hello or ""
  end
end

function SSL:getsniname()
  if self.mode == "client" then return self.servername end
  if not self.conn or self.state == "closed" then return nil end
  return self.conn:info().server_name
end

function SSL:getalpn()
  if self.state ~= "connected" then return nil end
  return self.conn:info().alpn
end

-- LuaSec numbers the peer's certificates from 1 (the peer's own) along its chain.
function SSL:getpeercertificate(n)
  if self.state ~= "connected" then return nil, "closed" end
  n = n or 1
  if type(n) ~= "number" or n < 1 then return nil, "invalid certificate index" end
  return self.conn:peer_chain()[n]
end

function SSL:getpeerchain()
  if self.state ~= "connected" then return nil, "closed" end
  return self.conn:peer_chain()
end

-- The words of a verify error's stable name: OpenSSL's numbers, then the binding's own
-- (1001 ...).
local function verify_text(name)
  for _, range in ipairs({ { 1, 100 }, { 1001, 1100 } }) do
    for code = range[1], range[2] do
      local n, text = wolfssl.verify_error(code)
      if n == name then return text end
    end
  end
  return name
end

-- true, or false and why: the failure text, or (verifyext lsec_continue) a table of
-- messages per depth, as LuaSec gives them.
function SSL:getpeerverification()
  if self.state ~= "connected" then return false, "closed" end
  local errors = verify_store[self.conn]
  if errors then return false, errors end
  local info = self.conn:info()
  if info.verified then return true end
  if info.verify_error then return false, verify_text(info.verify_error) end
  return false, "peer certificate not verified (verify = \"none\")"
end

-- OpenSSL's cipher description words, from the IANA suite name.
local function describe(iana)
  local d = { key = "any", authentication = "any", mac = "AEAD" }
  local kx, enc = iana:match("^TLS_(.-)_WITH_(.+)$")
  if not kx then enc = iana:match("^TLS_(.+)$") end
  if kx then
    local k, a = kx:match("^(%u+)_(%u+)$")
    k, a = k or kx, a or kx
    d.key = ({ ECDHE = "ECDH", DHE = "DH", RSA = "RSA", PSK = "PSK" })[k] or k
    d.authentication = a
  end
  local bits
  if enc:find("CHACHA20_POLY1305", 1, true) then
    d.encryption, bits = "CHACHA20/POLY1305(256)", 256
  else
    local alg, b, m = enc:match("^(%u+)_(%d+)_(%u+)")
    bits = tonumber(b)
    if alg and m == "GCM" then d.encryption = alg .. "GCM(" .. b .. ")"
    elseif alg and m == "CCM" then d.encryption = alg .. "CCM(" .. b .. ")"
    elseif alg then
      d.encryption = alg .. "(" .. b .. ")"
      local mac = enc:match("_(SHA%d*)$")
      d.mac = mac == "SHA" and "SHA1" or mac
    end
  end
  d.bits, d.algbits = bits, bits
  return d
end

-- info([field]): LuaSec's fields (cipher, protocol, key, authentication, encryption,
-- mac, bits, algbits, export, compression) plus lua-wolfssl's (version, cipher_iana,
-- group, alpn, server_name, resumed, verified, verify_error).
function SSL:info(field)
  if self.state ~= "connected" then return nil, "closed" end
  local i = self.conn:info()
  local t = describe(i.cipher or "")
  t.protocol, t.version = i.version, i.version
  -- OpenSSL names TLS 1.3 suites by their IANA names; wolfSSL's 1.2 names are OpenSSL's
  t.cipher = i.version == "TLSv1.3" and i.cipher or i.cipher_name
  t.cipher_iana = i.cipher
  t.export = false
  t.group, t.alpn, t.server_name, t.resumed = i.group, i.alpn, i.server_name, i.resumed
  t.verified, t.verify_error = i.verified, i.verify_error
  if field then return t[field] end
  return t
end

function SSL:getfinished()
  if self.state ~= "connected" then return nil, "closed" end
  return self.conn:finished()
end

function SSL:getpeerfinished()
  if self.state ~= "connected" then return nil, "closed" end
  return self.conn:peer_finished()
end

-- The lua-wolfssl Connection underneath, for everything LuaSec has no name for.
function SSL:connection() return self.conn end

---------------------------------------------------------------------------------------
-- LuaSec's certificate method names, on lua-wolfssl's Certificate, over its own methods.

local Cert = wolfssl.Certificate
local function alias(name, fn) if Cert[name] == nil then Cert[name] = fn end end
alias("digest", function(self, alg) return self:fingerprint(alg or "sha1") end)
local function asn1_time(epoch) return os.date("!%b %d %H:%M:%S %Y GMT", epoch) end
alias("notbefore", function(self) return asn1_time(self:not_before()) end)
alias("notafter", function(self) return asn1_time(self:not_after()) end)
alias("validat", function(self, t)
  t = t or os.time()
  return self:not_before() <= t and t <= self:not_after()
end)
alias("getsignaturename", function(self) return self:signature_algorithm() end)

---------------------------------------------------------------------------------------
-- connect(host, port [, params]): TCP connect, wrap, SNI, checked host name, handshake.
-- Defaults: a verifying client (system CA store unless cafile/capath) that checks host.

function M.connect(host, port, params)
  if type(host) ~= "string" then error("bad argument #1 to 'connect' (string expected)", 2) end
  local cfg = {}
  for k, v in pairs(params or {}) do cfg[k] = v end
  cfg.mode = cfg.mode or "client"
  if cfg.verify == nil then cfg.verify = "peer" end
  if cfg.checkhost == nil then cfg.checkhost = true end
  local ctx, err = M.newcontext(cfg)
  if not ctx then return nil, err end
  local tcp = socket.tcp()
  tcp:settimeout(cfg.timeout)
  local ok, cerr = tcp:connect(host, port)
  if not ok then tcp:close(); return nil, cerr end
  local conn, werr = M.wrap(tcp, ctx)
  if not conn then tcp:close(); return nil, werr end
  conn:sni(host)
  conn:settimeout(cfg.timeout)
  local hok, herr, code = conn:dohandshake()
  if not hok then conn:close(); return nil, herr, code end
  return conn
end

return M
