-- lua-wolfssl side of the benchmark: the workloads of bench/raw.c through the binding,
-- with the fd transport (--transport fd: the binding recv()s and send()s in C) or the
-- memory transport driven over a LuaSocket socket (--transport mem: take() -> send,
-- receive -> feed(), one TLS record at a time).
local wolfssl = require "wolfssl"
local common = require "bench.common"

local o = common.args(arg)

local function context()
  local v = o.tls == "1.2" and "tls1.2" or "tls1.3"
  local t = { role = o.role, min_version = v, max_version = v, groups = { o.group }, ciphers = o.cipher }
  -- W2 TLS 1.2 resumes by session id, as raw C does (its client never offers a ticket)
  if o.mode == "resume" and o.tls == "1.2" then t.tickets = false end
  if o.role == "server" then
    t.certificate, t.key = o.cert, o.key
  else
    t.ca = o.ca
  end
  if o.trace then
    if not wolfssl._handlers.on_message then
      if o.role == "server" then common.listen(o.port) end
      if o.role == "client" then common.result(0, "n/a (needs on_message: the trace issue)") end
      os.exit(0)
    end
    -- W5: the trace's own cost (records split, encrypted handshake messages opened,
    -- one Lua call per message), with a script that only receives the events
    t.on_message = function() end
  end
  return assert(wolfssl.context(t))
end

local can_resume = wolfssl.Connection.session ~= nil and wolfssl._connection_options.session
if o.mode == "resume" and not can_resume then
  -- W2 needs conn:session() and ctx:connection{session=} (the sessions issue)
  if o.role == "client" then common.result(0, "n/a (needs conn:session(): the sessions issue)") end
  if o.role == "server" then common.listen(o.port) end
  os.exit(0)
end

-- A connection and its socket as one stream: handshake/read/write/close.
local Stream = {}
Stream.__index = Stream

local function stream(ctx, sock, session)
  local opts = { session = session }
  if o.role == "client" then opts.server_name = "localhost" end
  if o.transport == "fd" then opts.fd = sock:getfd() end
  local conn = assert(ctx:connection(opts))
  return setmetatable({ conn = conn, sock = sock, mem = o.transport == "mem" }, Stream)
end

-- memory transport: one whole record from the socket into the connection
function Stream:fill()
  local hdr, err = self.sock:receive(5)
  if not hdr then return nil, err end
  local body, berr = self.sock:receive(hdr:byte(4) * 256 + hdr:byte(5))
  if not body then return nil, berr end
  self.conn:feed(hdr)
  self.conn:feed(body)
  return true
end

function Stream:call(op, arg1)
  local conn = self.conn
  if not self.mem then return conn[op](conn, arg1) end
  while true do
    local r, err, code = conn[op](conn, arg1)
    local out = conn:take()
    if #out > 0 then assert(self.sock:send(out)) end
    if r ~= nil or code ~= "wantread" then return r, err, code end
    local ok, ferr = self:fill()
    if not ok then return nil, ferr, "closed" end
  end
end

function Stream:read_exact(n)
  while n > 0 do
    local s, err = self:call("read", n < common.CHUNK and n or common.CHUNK)
    if not s then error("read: " .. tostring(err)) end
    n = n - #s
  end
end

function Stream:write_all(n)
  local block = common.BLOCK
  while n > 0 do
    local w = n < common.CHUNK and block:sub(1, n) or block
    assert(self:call("write", w) == #w)
    n = n - #w
  end
end

function Stream:close()
  self.conn:close()
  self.sock:close()
end

local ctx = context()

if o.role == "server" then
  local ls = common.listen(o.port)
  local idle, rss0, lua0 = {}, nil, nil
  while true do
    local st = stream(ctx, common.accept(ls))
    if st:call("handshake") then
      if o.mode == "up" then
        st:read_exact(o.bytes); st:write_all(1)
      elseif o.mode == "down" then
        st:read_exact(1); st:write_all(o.bytes)
      else
        st:read_exact(1); st:write_all(1)
      end
      if o.mode == "idle" then
        if o.release then st.conn:release_handshake_data() end
        idle[#idle + 1] = st
        if #idle == o.base then rss0, lua0 = common.rss(), common.lua_kb() end
        if #idle == o.base + o.conns then
          local lua1 = common.lua_kb()
          common.result((common.rss() - rss0) / o.conns, "bytes")
          io.write(("lua %.0f bytes\n"):format((lua1 - lua0) * 1024 / o.conns))
          io.write(("socket %.0f bytes\n"):format(common.socket_bytes()))
          os.exit(0)
        end
      else
        st:call("read", 1) -- until the client closes
        st:close()
      end
    else
      st:close()
    end
  end
else
  if o.mode == "hs" or o.mode == "resume" then
    common.handshakes(o, function(session)
      local st = stream(ctx, common.connect(o.port), session)
      local ok, err = st:call("handshake")
      if not ok then error("handshake: " .. tostring(err)) end
      st:write_all(1); st:read_exact(1)
      local resumed, s
      if session then resumed = st.conn:info().resumed end
      if o.mode == "resume" then s = st.conn:session() end
      st:close()
      return resumed, s
    end)
  elseif o.mode == "up" or o.mode == "down" then
    local st = stream(ctx, common.connect(o.port))
    assert(st:call("handshake"))
    local t0, c0 = common.now(), os.clock()
    if o.mode == "up" then st:write_all(o.bytes); st:read_exact(1)
    else st:write_all(1); st:read_exact(o.bytes) end
    common.result(o.bytes / 1e6 / (common.now() - t0), "MB/s")
    common.cpu(os.clock() - c0, o.bytes / 1e6)
    st:close()
  elseif o.mode == "idle" then
    local all = {}
    for i = 1, o.base + o.conns do
      local st = stream(ctx, common.connect(o.port))
      assert(st:call("handshake"))
      st:write_all(1); st:read_exact(1)
      all[i] = st
    end
    all[1]:call("read", 1) -- the server exits once it has measured
    io.write("result done\n")
  end
end
