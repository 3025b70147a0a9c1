-- A LuaSec script runs on lua-wolfssl with only its require changed.
--
-- Each story below is a client script and a server script written the way LuaSec's
-- documentation and samples write them (wrap, dohandshake, receive, send, sni, alpn,
-- settimeout(0) with want()). Each is run four ways: LuaSec on both ends (the
-- reference), lua-wolfssl on both ends, and each library against the other. What the
-- scripts print must be the same every way, so return values and error conventions
-- match LuaSec's, and the two libraries interoperate.
local socket = require "socket"
local certs = require "spec.helpers.certs"
local peer = require "spec.helpers.peer"
local tmp = require "spec.helpers.tmp"

local LUA = os.getenv("LW_LUA") or "lua5.4"
local LIBS = { luasec = "ssl", wolfssl = "wolfssl.socket" }

local counter = 0

-- The script text with its require and its paths filled in.
local function script(text, lib, port)
  counter = counter + 1
  text = text:gsub("%$LIB", LIBS[lib]):gsub("%$PORT", tostring(port)):gsub("%$(%w+)%.(%w+)", function(name, ext)
    return certs.path(name .. "." .. ext)
  end)
  return tmp.write(("compat%d-%s.lua"):format(counter, lib), text)
end

-- Run one server script and one client script; returns both outputs.
local function run(story, server_lib, client_lib)
  local port = peer.free_port()
  local server = peer.spawn(LUA .. " " .. tmp.quote(script(story.server, server_lib, port)), { lua = true })
  finally(function() peer.stop(server) end)
  local deadline = socket.gettime() + 10
  while not peer.output(server):find("ready", 1, true) do
    assert(peer.alive(server), "server died: " .. peer.output(server))
    assert(socket.gettime() < deadline, "server did not start")
    socket.sleep(0.02)
  end
  local client = peer.spawn(LUA .. " " .. tmp.quote(script(story.client, client_lib, port)), { lua = true })
  finally(function() peer.stop(client) end)
  assert(peer.wait(client, 15), "client did not finish: " .. peer.output(client))
  peer.wait(server, 5)
  local norm = story.normalize or function(s) return s end
  return norm(peer.output(server)), norm(peer.output(client))
end

local function four_ways(story)
  local ref_server, ref_client = run(story, "luasec", "luasec")
  assert.is_truthy(ref_client:find(story.expect, 1, true), "LuaSec reference: " .. ref_client)
  for _, combo in ipairs({ { "wolfssl", "wolfssl" }, { "luasec", "wolfssl" }, { "wolfssl", "luasec" } }) do
    local s, c = run(story, combo[1], combo[2])
    assert.equal(ref_client, c, ("client output, %s server / %s client"):format(combo[1], combo[2]))
    assert.equal(ref_server, s, ("server output, %s server / %s client"):format(combo[1], combo[2]))
  end
end

-- The server half of LuaSec's samples/oneshot, with a client certificate demanded.
local ONESHOT_SERVER = [[
local socket = require("socket")
local ssl    = require("$LIB")

local params = {
   mode = "server",
   protocol = "any",
   key = "$ec.key",
   certificate = "$ec.pem",
   cafile = "$ca.pem",
   verify = {"peer", "fail_if_no_peer_cert"},
   options = "all",
}

local ctx = assert(ssl.newcontext(params))

local server = socket.tcp()
server:setoption('reuseaddr', true)
assert( server:bind("127.0.0.1", $PORT) )
server:listen()
print("ready") io.stdout:flush()

local peer = server:accept()
peer = assert( ssl.wrap(peer, ctx) )
assert( peer:dohandshake() )

print("client:", peer:getpeercertificate():pem() == io.open("$client.pem"):read("*a"))
print("verified:", peer:getpeerverification())
peer:send("oneshot test\n")
peer:close()
]]

describe("LuaSec's documented usage on lua-wolfssl", function()
  it("oneshot: a server demanding a client certificate, a client presenting one", function()
    four_ways({
      expect = "oneshot test",
      server = ONESHOT_SERVER,
      client = [[
local socket = require("socket")
local ssl    = require("$LIB")

local params = {
  mode = "client",
  protocol = "tlsv1_2",
  key = "$client.key",
  certificate = "$client.pem",
  cafile = "$ca.pem",
  verify = "peer",
  options = "all",
}

local peer = socket.tcp()
peer:connect("127.0.0.1", $PORT)

-- TLS/SSL initialization
peer = ssl.wrap(peer, params)
peer:dohandshake()

print(peer:receive("*l"))
print(peer:info("protocol"), peer:getpeerverification())
print(peer:getpeercertificate():pem() == io.open("$ec.pem"):read("*a"))
peer:close()
]],
    })
  end)

  it("want: a non-blocking client loops on dohandshake/receive, waiting in select() for what want() says", function()
    four_ways({
      expect = "oneshot test",
      server = ONESHOT_SERVER,
      -- samples/want/client.lua; the number of waits depends on timing, so it counts
      -- only what kind of wait was asked for
      client = [[
local socket = require("socket")
local ssl    = require("$LIB")

local params = {
   mode = "client",
   protocol = "any",
   key = "$client.key",
   certificate = "$client.pem",
   cafile = "$ca.pem",
   verify = {"peer", "fail_if_no_peer_cert"},
   options = {"all", "no_sslv2"},
}

local asked = {}
local function wait(peer)
   local err = peer:want()
   asked[err] = true
   if err == "read" or err == "timeout" then
      socket.select({peer}, nil)
   elseif err == "write" then
      socket.select(nil, {peer})
   else
      peer:close()
      os.exit(1)
   end
end

local peer = socket.tcp()
assert( peer:connect("127.0.0.1", $PORT) )

peer = assert( ssl.wrap(peer, params) )
peer:settimeout(0)
local succ = peer:dohandshake()
while not succ do
   wait(peer)
   succ = peer:dohandshake()
end
print("** Handshake done")

local str = peer:receive("*l")
while not str do
   wait(peer)
   str = peer:receive("*l")
end
print(str, asked.write)
peer:close()
]],
    })
  end)

  it("receive: lines, counts, prefixes, partial results and 'closed', as LuaSocket defines them", function()
    four_ways({
      expect = "nil\twantread\tfyzpartial",
      server = [[
local socket = require("socket")
local ssl    = require("$LIB")
local ctx = assert(ssl.newcontext({ mode = "server", protocol = "any",
  key = "$ec.key", certificate = "$ec.pem", options = "all" }))
local server = assert(socket.bind("127.0.0.1", $PORT))
print("ready") io.stdout:flush()
local peer = assert(ssl.wrap(server:accept(), ctx))
assert(peer:dohandshake())
print(peer:send("line1\r\nli\rne2\nabcdef", 1))
print(peer:send("ignored-part", 8, 7))
print(peer:send("xyz", -2))
assert(peer:receive("*l") == "go on")
print(peer:send("partial"))
print(peer:receive("*l"))
peer:close()
]],
      client = [[
local socket = require("socket")
local ssl    = require("$LIB")
local peer = socket.tcp()
assert(peer:connect("127.0.0.1", $PORT))
peer = assert(ssl.wrap(peer, { mode = "client", protocol = "any", verify = "peer",
  cafile = "$ca.pem", options = "all" }))
assert(peer:dohandshake())
print(peer:receive())
print(peer:receive("*l", "pre:"))
print(peer:receive(3))
print(peer:receive(2))
peer:send("go on\n")
peer:settimeout(0.5)
print(peer:receive("*l"))
print(peer:receive("*a"))
print(peer:receive("*a"))
print(peer:receive(1, "p"))
print(peer:receive())
]],
    })
  end)

  it("a client that does not trust the server gets false and 'certificate verify failed'", function()
    four_ways({
      expect = "false\tcertificate verify failed",
      -- the message goes on with the reason on lua-wolfssl; the first words are LuaSec's
      normalize = function(s) return (s:gsub("certificate verify failed[^\n]*", "certificate verify failed")) end,
      server = [[
local socket = require("socket")
local ssl    = require("$LIB")
local server = assert(socket.bind("127.0.0.1", $PORT))
print("ready") io.stdout:flush()
local peer = assert(ssl.wrap(server:accept(), { mode = "server", protocol = "any",
  key = "$untrusted.key", certificate = "$untrusted.pem" }))
local ok = peer:dohandshake()
print("server handshake ok:", ok)
peer:close()
]],
      client = [[
local socket = require("socket")
local ssl    = require("$LIB")
local peer = socket.tcp()
assert(peer:connect("127.0.0.1", $PORT))
peer = assert(ssl.wrap(peer, { mode = "client", protocol = "any", verify = "peer", cafile = "$ca.pem" }))
local ok, err = peer:dohandshake()
print(ok, err)
print(peer:getpeercertificate())
peer:close()
]],
    })
  end)

  it("sni: the server picks its certificate by the name the client sends, and strict refuses others", function()
    four_ways({
      expect = "rsa.test rsa\nec.test ec\nnobody.test refused",
      -- samples/sni/server.lua, serving three connections
      server = [[
local socket = require("socket")
local ssl    = require("$LIB")

local params01 = {
  mode = "server",
  protocol = "any",
  key = "$ec.key",
  certificate = "$ec.pem",
  cafile = "$ca.pem",
  verify = "none",
  options = "all",
  ciphers = "ALL:!ADH:@STRENGTH",
}

local params02 = {
  mode = "server",
  protocol = "any",
  key = "$rsa.key",
  certificate = "$rsa.pem",
  cafile = "$ca.pem",
  verify = "none",
  options = "all",
  ciphers = "ALL:!ADH:@STRENGTH",
}

local ctx01 = ssl.newcontext(params01)
local ctx02 = ssl.newcontext(params02)

local server = socket.tcp()
server:setoption('reuseaddr', true)
server:bind("127.0.0.1", $PORT)
server:listen()
print("ready") io.stdout:flush()
for i = 1, 3 do
  local conn = server:accept()
  conn = ssl.wrap(conn, ctx01)
  local sni_map = {
    ["ec.test"]  = ctx01,
    ["rsa.test"] = ctx02,
  }
  conn:sni(sni_map, true)
  if conn:dohandshake() then
    print("served", conn:getsniname())
    conn:send("one line\n")
  end
  conn:close()
end
]],
      client = [[
local socket = require("socket")
local ssl    = require("$LIB")

local params = {
  mode = "client",
  protocol = "any",
  verify = "none",
  options = "all",
}

local function try(name)
  local conn = socket.tcp()
  conn:connect("127.0.0.1", $PORT)
  conn = assert(ssl.wrap(conn, params))
  conn:sni(name)
  if not conn:dohandshake() then
    io.write(name, " refused\n")
  else
    local pem = conn:getpeercertificate():pem()
    io.write(name, " ", pem == io.open("$rsa.pem"):read("*a") and "rsa" or "ec", "\n")
    assert(conn:receive("*l") == "one line")
  end
  conn:close()
end
try("rsa.test")
try("ec.test")
try("nobody.test")
]],
    })
  end)

  it("alpn: the client offers a list, the server chooses by its own preference", function()
    four_ways({
      expect = "client alpn:\thttp/1.1",
      server = [[
local socket = require("socket")
local ssl    = require("$LIB")
local params = {
   mode = "server",
   protocol = "any",
   key = "$ec.key",
   certificate = "$ec.pem",
   options = "all",
   alpn = {"http/1.1", "h2"},
}
local ctx = assert(ssl.newcontext(params))
local server = socket.tcp()
server:setoption('reuseaddr', true)
assert( server:bind("127.0.0.1", $PORT) )
server:listen()
print("ready") io.stdout:flush()
local peer = server:accept()
peer = assert( ssl.wrap(peer, ctx) )
print( peer:info() )
assert( peer:dohandshake() )
print("server alpn:", peer:getalpn())
peer:close()
]],
      client = [[
local socket = require("socket")
local ssl    = require("$LIB")
local params = {
   mode = "client",
   protocol = "any",
   cafile = "$ca.pem",
   verify = "peer",
   options = "all",
   alpn = {"h2", "http/1.1"},
}
local peer = socket.tcp()
assert( peer:connect("127.0.0.1", $PORT) )
peer = assert( ssl.wrap(peer, params) )
assert( peer:dohandshake() )
print("client alpn:", peer:getalpn())
peer:close()
]],
    })
  end)
end)
