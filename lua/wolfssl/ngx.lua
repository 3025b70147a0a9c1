-- wolfssl.ngx: TLS over OpenResty cosockets, with lua-wolfssl's memory transport.
--
--   local wngx = require "wolfssl.ngx"
--   local sock = ngx.socket.tcp()
--   sock:settimeout(5000)
--   assert(sock:connect("127.0.0.1", 8443))
--   local tls = wngx.wrap(sock, ctx, { server_name = "upstream.example" })
--   local ok, err, code = tls:handshake()
--   tls:send("hello\n")
--   local line, err = tls:receive("*l")
--
-- The Connection never touches a socket: wolfSSL reads and writes memory buffers, and
-- this driver moves the bytes with the cosocket's send and receiveany, which yield to
-- nginx's event loop instead of blocking the worker. Timeouts are the cosocket's
-- (sock:settimeout / settimeouts). Results follow the cosocket conventions: data or
-- nil, err[, partial], where err is "closed", "timeout" or lua-wolfssl's message; the
-- handshake returns true or nil, message, code (lua-wolfssl's codes).
--
-- Server side: wngx.server(ctx [, opts]) takes the request's raw downstream socket
-- (ngx.req.socket(true)) and answers TLS on it; see README "OpenResty" for when nginx
-- allows that.
local wolfssl = require "wolfssl"
local buffer = require "wolfssl.buffer"

local M = {}

local TLS = {}
TLS.__index = TLS
M.TLS = TLS

local READ = 16384 -- bytes asked of the cosocket per receive

local function is_context(x)
  local mt = getmetatable(x)
  return mt ~= nil and mt.__index == wolfssl.Context
end

-- wrap(sock, ctx_or_options [, opts]) -> tls | nil, err
-- opts: server_name, alpn, session (client connection options), on_pause = function(tls) run
-- (and allowed to yield: cosocket calls are fine) when a handshake callback returned
-- wolfssl.PAUSE; the handshake then continues.
function M.wrap(sock, ctx, opts)
  if type(sock) ~= "table" and type(sock) ~= "userdata" or not sock.receiveany or not sock.send then
    error("bad argument #1 to 'wrap' (cosocket expected, got " .. type(sock) .. ")", 2)
  end
  if type(ctx) == "table" and not is_context(ctx) then
    local err
    ctx, err = wolfssl.context(ctx)
    if not ctx then return nil, err end
  elseif not is_context(ctx) then
    error("bad argument #2 to 'wrap' (wolfssl context or context options expected, got " .. type(ctx) .. ")", 2)
  end
  opts = opts or {}
  if opts.on_pause ~= nil and type(opts.on_pause) ~= "function" then
    error("bad option 'on_pause' (function expected)", 2)
  end
  local conn, err = ctx:connection({ server_name = opts.server_name, alpn = opts.alpn, session = opts.session })
  if not conn then return nil, err end
  return setmetatable({ sock = sock, conn = conn, rbuf = buffer.new(), on_pause = opts.on_pause }, TLS)
end

-- Send whatever the connection has for the peer.
local function flush(self)
  local out = self.conn:take()
  if #out == 0 then return true end
  local n, err = self.sock:send(out)
  if not n then
    self.failed = err
    return nil, err
  end
  return true
end

-- Wait for bytes from the peer (yielding) and give them to the connection.
local function fill(self)
  local data, err = self.sock:receiveany(READ)
  if data then
    self.conn:feed(data)
    return true
  end
  if err == "closed" then
    self.conn:feed_eof()
    return true -- the connection reports the end in its own words
  end
  return nil, err
end

-- Run one connection call until it no longer needs input. Returns what it returns, or
-- nil, "timeout" | socket error, "timeout" | "io".
local function drive(self, method, arg)
  if self.failed then return nil, self.failed, "io" end
  while true do
    local r1, r2, r3 = self.conn[method](self.conn, arg)
    local sent, serr = flush(self)
    if not sent then return nil, serr, serr == "timeout" and "timeout" or "io" end
    if r1 ~= nil then return r1, r2, r3 end
    if r3 == "paused" and self.on_pause then
      local ok, perr = pcall(self.on_pause, self)
      if not ok then return nil, "on_pause failed: " .. tostring(perr), "callback" end
    elseif r3 ~= "wantread" then
      return r1, r2, r3
    else
      local ok, ferr = fill(self)
      if not ok then return nil, ferr, ferr == "timeout" and "timeout" or "io" end
    end
  end
end

-- handshake() -> true | nil, message, code
function TLS:handshake()
  if self.closed then return nil, "connection is closed", "closed" end
  local ok, err, code = drive(self, "handshake")
  if ok then self.done = true end
  return ok, err, code
end

-- More plaintext into the buffer. true | nil, err
local function more(self)
  if self.rerr then return nil, self.rerr end
  local data, err, code = drive(self, "read")
  if not data then
    -- "timeout" can be retried; anything else ends the stream
    if code ~= "timeout" then self.rerr = code == "closed" and "closed" or err end
    return nil, code == "timeout" and "timeout" or self.rerr
  end
  self.rbuf:append(data)
  return true
end

-- receive(pattern) with the cosocket patterns: "*l" / "l" (a line without its LF; every
-- CR dropped), "*a" / "a" (until the peer closes), a number of bytes (wolfssl.buffer).
-- -> data | nil, err, partial
function TLS:receive(pattern)
  pattern = pattern or "*l"
  local kind = buffer.kind(pattern)
  if not kind or (kind == "n" and pattern < 0) then
    error("bad argument #1 to 'receive' (bad pattern argument)", 2)
  end
  if self.closed then return nil, "closed", "" end
  local data, partial, err = self.rbuf:receive(kind, kind == "n" and math.floor(pattern), function() return more(self) end)
  if data then return data end
  -- the cosocket's "*a" returns what it has at the close, even ""
  if kind == "a" and err == "closed" then return partial end
  return nil, err, partial
end

-- receiveany(max) -> up to max bytes, as soon as any are there | nil, err
function TLS:receiveany(max)
  if type(max) ~= "number" or max < 1 then error("bad argument #1 to 'receiveany' (positive number expected)", 2) end
  if self.closed then return nil, "closed" end
  if self.rbuf:avail() == 0 then
    local ok, err = more(self)
    if not ok then return nil, err end
  end
  return self.rbuf:take(math.floor(max))
end

-- send(data) -> number of bytes | nil, err
function TLS:send(data)
  if type(data) == "table" then data = table.concat(data) end
  if type(data) ~= "string" then error("bad argument #1 to 'send' (string or table expected, got " .. type(data) .. ")", 2) end
  if self.closed then return nil, "closed" end
  if #data == 0 then return 0 end
  local n, err, code = drive(self, "write", data)
  if not n then return nil, code == "closed" and "closed" or err end
  return n
end

-- close(): close_notify to the peer, then the cosocket. -> 1 | nil, err
function TLS:close()
  if self.closed then return nil, "closed" end
  self.closed = true
  if self.done and not self.failed then
    self.conn:shutdown()
    flush(self)
  end
  self.conn:close()
  return self.sock:close()
end

-- TLS state cannot go back to a connection pool: keepalive closes.
function TLS:setkeepalive()
  self:close()
  return nil, "TLS connections are not pooled: closed"
end

function TLS:settimeout(ms) return self.sock:settimeout(ms) end
function TLS:settimeouts(c, s, r) return self.sock:settimeouts(c, s, r) end
function TLS:info() return self.conn:info() end
function TLS:peer_certificate() return self.conn:peer_certificate() end
function TLS:peer_chain() return self.conn:peer_chain() end
function TLS:connection() return self.conn end

-- What a script asks of the connection, passed through (not the transport calls:
-- feed/take/handshake belong to this driver, and a write-side call such as key_update
-- would leave bytes no cosocket send carries).
for _, name in ipairs({ "session", "verified_chain", "export_keying_material", "finished",
  "peer_finished", "client_random", "server_random", "keylog", "server_name" }) do
  TLS[name] = function(self, ...) return self.conn[name](self.conn, ...) end
end

-- server(ctx [, opts]) -> tls | nil, err: TLS on the raw downstream socket of the
-- current request (ngx.req.socket(true)), e.g. after answering an HTTP Upgrade with
-- 101 Switching Protocols. opts.response: bytes to send in the clear first.
function M.server(ctx, opts)
  opts = opts or {}
  local sock, err = ngx.req.socket(true)
  if not sock then return nil, err end
  if opts.response then
    local ok, serr = sock:send(opts.response)
    if not ok then return nil, serr end
  end
  return M.wrap(sock, ctx, opts)
end

return M
