-- LuaSec (Debian lua-sec, over OpenSSL) side of the benchmark: the same workloads and
-- protocol as bench/raw.c. LuaSec has no session API, so it cannot do W2 (resumption):
-- it answers "n/a" there.
local socket = require "socket"
local ssl = require "ssl"
local common = require "bench.common"

local o = common.args(arg)

-- wolfSSL suite names (what the driver passes) -> OpenSSL's
local SUITES = {
  ["TLS13-AES128-GCM-SHA256"] = "TLS_AES_128_GCM_SHA256",
  ["TLS13-CHACHA20-POLY1305-SHA256"] = "TLS_CHACHA20_POLY1305_SHA256",
}

if o.mode == "resume" then
  if o.role == "client" then common.result(0, "n/a (LuaSec has no session API)") end
  if o.role == "server" then common.listen(o.port) end
  os.exit(0)
end
if o.trace then
  common.result(0, "n/a")
  os.exit(0)
end

local params = {
  mode = o.role, protocol = o.tls == "1.2" and "tlsv1_2" or "tlsv1_3",
  options = "all", curveslist = o.group == "P-256" and "P-256" or o.group,
}
if o.cipher then
  if o.tls == "1.2" then params.ciphers = o.cipher else params.ciphersuites = SUITES[o.cipher] or o.cipher end
end
if o.role == "server" then
  params.key, params.certificate, params.verify = o.key, o.cert, "none"
else
  params.cafile, params.verify = o.ca, "peer"
end
local ctx = assert(ssl.newcontext(params))

local function wrap(sock)
  local c = assert(ssl.wrap(sock, ctx))
  if o.role == "client" then c:sni("localhost") end
  return c
end

local function read_exact(c, n)
  while n > 0 do
    local want = n < common.CHUNK and n or common.CHUNK
    local s, err = c:receive(want)
    if not s then error("receive: " .. tostring(err)) end
    n = n - #s
  end
end

local function write_all(c, n)
  while n > 0 do
    local w = n < common.CHUNK and common.BLOCK:sub(1, n) or common.BLOCK
    assert(c:send(w))
    n = n - #w
  end
end

if o.role == "server" then
  local ls = common.listen(o.port)
  local idle, rss0, lua0 = {}, nil, nil
  while true do
    local c = wrap(common.accept(ls))
    if c:dohandshake() then
      if o.mode == "up" then read_exact(c, o.bytes); write_all(c, 1)
      elseif o.mode == "down" then read_exact(c, 1); write_all(c, o.bytes)
      else read_exact(c, 1); write_all(c, 1) end
      if o.mode == "idle" then
        idle[#idle + 1] = c
        if #idle == o.base then rss0, lua0 = common.rss(), common.lua_kb() end
        if #idle == o.base + o.conns then
          local lua1 = common.lua_kb()
          common.result((common.rss() - rss0) / o.conns, "bytes")
          io.write(("lua %.0f bytes\n"):format((lua1 - lua0) * 1024 / o.conns))
          io.write(("socket %.0f bytes\n"):format(common.socket_bytes()))
          os.exit(0)
        end
      else
        c:receive(1)
        c:close()
      end
    else
      c:close()
    end
  end
else
  if o.mode == "hs" then
    common.handshakes(o, function()
      local c = wrap(common.connect(o.port))
      assert(c:dohandshake())
      write_all(c, 1); read_exact(c, 1)
      c:close()
    end)
  elseif o.mode == "up" or o.mode == "down" then
    local c = wrap(common.connect(o.port))
    assert(c:dohandshake())
    local t0, c0 = socket.gettime(), os.clock()
    if o.mode == "up" then write_all(c, o.bytes); read_exact(c, 1)
    else write_all(c, 1); read_exact(c, o.bytes) end
    common.result(o.bytes / 1e6 / (socket.gettime() - t0), "MB/s")
    common.cpu(os.clock() - c0, o.bytes / 1e6)
    c:close()
  elseif o.mode == "idle" then
    local all = {}
    for i = 1, o.base + o.conns do
      local c = wrap(common.connect(o.port))
      assert(c:dohandshake())
      write_all(c, 1); read_exact(c, 1)
      all[i] = c
    end
    all[1]:receive(1)
    io.write("result done\n")
  end
end
