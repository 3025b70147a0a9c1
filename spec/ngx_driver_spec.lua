-- The OpenResty driver (wolfssl.ngx) outside nginx, over a scripted cosocket whose far end
-- is a lua-wolfssl server in memory: reading with the cosocket's receive patterns (LuaSec's
-- driver, spec/socket_spec.lua, follows LuaSocket's; both share wolfssl.buffer), and the
-- connection options wrap() passes on. spec/ngx_spec.lua runs it inside a real nginx.
local wolfssl = require "wolfssl"
local wngx = require "wolfssl.ngx"
local buffer = require "wolfssl.buffer"
local contexts = require "spec.helpers.ctx"

-- A cosocket stand-in: what the client sends goes to a server Connection; once the
-- handshake is done the server writes `script` (one record per string) and closes.
local function upstream(script, sctx)
  local s = (sctx or contexts.server()):connection()
  local done, said = false, false
  local sock = {}
  function sock.send(_, data)
    s:feed(data)
    if not done then done = s:handshake() == true end
    return #data
  end
  function sock.receiveany(_, max)
    local out = s:take()
    if #out == 0 and done and not said then
      said = true
      for _, d in ipairs(script) do assert(s:write(d)) end
      s:shutdown()
      out = s:take()
    end
    if #out > 0 then return out end
    if said then return nil, "closed" end
    return nil, "timeout"
  end
  function sock.close() return 1 end
  return sock
end

local function connect(script, opts, sctx, cctx)
  opts = opts or {}
  opts.server_name = "localhost"
  local tls = assert(wngx.wrap(upstream(script, sctx), cctx or contexts.client(), opts))
  assert.is_true(tls:handshake())
  return tls
end

describe("wolfssl.ngx receive", function()
  it("reads lines without their LF, dropping every CR, across records", function()
    local tls = connect({ "one\r\ntw", "o\nthr\re", "e\n" })
    assert.equal("one", tls:receive())
    assert.equal("two", tls:receive("*l"))
    assert.equal("three", tls:receive("l"))
  end)

  it("reads a number of bytes, across records", function()
    local tls = connect({ "abc", "defgh" })
    assert.equal("abcd", tls:receive(4))
    assert.equal("e", tls:receive(1))
    assert.equal("fgh", tls:receive(3))
  end)

  it("reads everything until the close with '*a', and '' after it (the cosocket's rule)", function()
    local tls = connect({ "abc", "def" })
    assert.equal("a", tls:receive(1))
    assert.equal("bcdef", tls:receive("*a"))
    assert.equal("", tls:receive("a"))
  end)

  it("hands out the partial line at the close, then only 'closed'", function()
    local tls = connect({ "a line\r\n", "no newline\r" })
    assert.equal("a line", tls:receive())
    assert.same({ nil, "closed", "no newline" }, { tls:receive() })
    assert.same({ nil, "closed", "" }, { tls:receive(3) })
  end)

  it("gives receiveany what is there, up to max", function()
    local tls = connect({ "abcdef" })
    assert.equal("abc", tls:receiveany(3))
    assert.equal("def", tls:receiveany(10))
  end)

  it("raises for a pattern the cosocket does not know", function()
    local tls = connect({})
    assert.has_error(function() tls:receive("*x") end, "bad argument #1 to 'receive' (bad pattern argument)")
    assert.has_error(function() tls:receive(-1) end, "bad argument #1 to 'receive' (bad pattern argument)")
  end)
end)

describe("wolfssl.ngx wrap options", function()
  it("resumes a saved session given as opts.session", function()
    local sctx, cctx = contexts.server(), contexts.client()
    local first = connect({ "x" }, nil, sctx, cctx)
    assert.equal("x", first:receive(1)) -- the TLS 1.3 ticket came with it
    local session = assert(first:session()) -- passed through to the Connection
    assert.is_false(first:info().resumed)
    local again = connect({ "y" }, { session = session }, sctx, cctx)
    assert.is_true(again:info().resumed)
    assert.equal("y", again:receive(1))
  end)

  it("answers what a script asks of its connection without unwrapping it", function()
    local tls = connect({ "x" })
    local conn = tls:connection()
    assert.equal(conn:export_keying_material("EXPORTER-test", 16), tls:export_keying_material("EXPORTER-test", 16))
    assert.equal(conn:client_random(), tls:client_random())
    assert.equal(conn:finished(), tls:finished())
    assert.equal(32, #tls:peer_finished())
    assert.equal(tostring(conn:verified_chain()[1]), tostring(tls:verified_chain()[1]))
    assert.is_nil(tls.feed) -- the transport stays the driver's
  end)
end)

describe("wolfssl.buffer", function()
  it("names the patterns both drivers accept", function()
    for p, kind in pairs({ ["*l"] = "l", l = "l", ["*a"] = "a", a = "a" }) do assert.equal(kind, buffer.kind(p)) end
    assert.equal("n", buffer.kind(5))
    assert.is_nil(buffer.kind("*x"))
    assert.is_nil(buffer.kind(nil))
  end)

  it("takes bytes without losing any as the buffer grows and shrinks", function()
    local b = buffer.new()
    b:append("hello ")
    assert.equal("he", b:take(2))
    b:append("world")
    assert.equal(9, b:avail())
    assert.equal("llo world", b:take(100))
    assert.equal(0, b:avail())
  end)
end)
