-- Bad input gets a clear error and never a crash; objects can be collected in any order.
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"
local contexts = require "spec.helpers.ctx"

local CODES = {
  handshake_failed = true, bad_input = true, alert = true, closed = true, verify_failed = true,
}

local function server_ctx() return contexts.server() end
local function client_ctx() return contexts.client() end

describe("garbage fed to a connection", function()
  it("makes a server fail with bad_input when a client speaks plain HTTP", function()
    local s = server_ctx():connection()
    s:feed("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    local ok, err, code = s:handshake()
    assert.is_nil(ok)
    assert.equal("bad_input", code)
    assert.matches("^handshake failed: malformed data from peer: ", err)
  end)

  it("makes a client fail cleanly when the server answers with garbage", function()
    local c = client_ctx():connection({ server_name = "localhost" })
    assert.equal("wantread", select(3, c:handshake()))
    assert.is_true(#c:take() > 0) -- the ClientHello went out
    c:feed(("\255"):rep(64))
    local ok, err, code = c:handshake()
    assert.is_nil(ok)
    assert.is_true(CODES[code], code)
    assert.is_string(err)
  end)

  it("never crashes on random bytes, at any point of the handshake", function()
    math.randomseed(12345)
    for round = 1, 300 do
      local c = client_ctx():connection({ server_name = "localhost" })
      local s = server_ctx():connection()
      -- run the real handshake for a few steps, then inject garbage into one side
      local stop = round % 4
      for _ = 1, stop do
        c:handshake(); s:feed(c:take()); s:handshake(); c:feed(s:take())
      end
      local victim = (round % 2 == 0) and c or s
      local junk = {}
      for i = 1, math.random(1, 300) do junk[i] = string.char(math.random(0, 255)) end
      -- sometimes a plausible record header, so the parser goes deeper
      if round % 3 == 0 then table.insert(junk, 1, "\22\3\3\0\64") end
      victim:feed(table.concat(junk))
      for _ = 1, 3 do
        local ok, err, code = victim:handshake()
        if ok == nil then
          assert.is_true(code == "wantread" or CODES[code], tostring(code) .. ": " .. tostring(err))
        end
        local _, rerr, rcode = victim:read()
        if rcode then assert.is_string(rerr) end
      end
      c:close()
      s:close()
    end
  end)

  it("reports a truncated handshake as 'closed' once the input ends", function()
    local c = client_ctx():connection({ server_name = "localhost" })
    local s = server_ctx():connection()
    c:handshake(); s:feed(c:take()); s:handshake()
    local flight = s:take()
    c:feed(flight:sub(1, 40))
    c:feed_eof()
    local ok, err, code = c:handshake()
    assert.is_nil(ok)
    assert.equal("closed", code)
    assert.equal("handshake failed: connection closed by peer", err)
    assert.has_error(function() c:feed("more") end, "feed after feed_eof")
  end)

  it("rejects a write retried with less data than the write that returned wantwrite", function()
    -- only the fd transport can say wantwrite; the rule is enforced by the binding
    local p = assert(wolfssl.pair(client_ctx(), server_ctx(), { server_name = "localhost" }))
    assert.equal(5, p.client:write("hello"))
    assert.equal(0, p.client:write(""))
  end)
end)

describe("object lifetimes", function()
  it("keeps a connection usable after its context is collected", function()
    local c, s
    do
      local cctx, sctx = client_ctx(), server_ctx()
      c = cctx:connection({ server_name = "localhost" })
      s = sctx:connection()
    end
    collectgarbage()
    collectgarbage()
    for _ = 1, 10 do
      c:handshake(); s:feed(c:take()); s:handshake(); c:feed(s:take())
    end
    assert.is_true(c:handshake())
    assert.is_true(s:handshake())
    c:write("still alive")
    s:feed(c:take())
    assert.equal("still alive", s:read())
  end)

  it("keeps a peer certificate valid after its connection is closed and collected", function()
    local cert
    do
      local p = assert(wolfssl.pair(client_ctx(), server_ctx(), { server_name = "localhost" }))
      cert = p.client:peer_certificate()
      p:close()
    end
    collectgarbage()
    collectgarbage()
    assert.equal("CN=localhost", tostring(cert:subject()))
    assert.equal(certs.read("ec.pem"), cert:pem())
  end)

  it("collects contexts, connections and certificates in any order", function()
    for i = 1, 50 do
      local objs = {}
      local p = assert(wolfssl.pair(client_ctx(), server_ctx(), { server_name = "localhost" }))
      objs[1], objs[2], objs[3] = p.client, p.server, p.client:peer_certificate()
      if i % 3 == 0 then p.client:close() end
      if i % 5 == 0 then p.server:close() end
      objs = nil
      p = nil
      collectgarbage()
    end
    collectgarbage()
  end)

  it("compares certificates by content and prints their subject", function()
    local a = assert(wolfssl.certificate(certs.read("ec.pem")))
    local b = assert(wolfssl.certificate(certs.read("ec.pem")))
    local c = assert(wolfssl.certificate(certs.read("rsa.pem")))
    assert.is_true(a == b)
    assert.is_false(a == c)
    assert.equal("wolfssl.Certificate: CN=localhost", tostring(a))
    assert.equal(certs.read("ec.pem"), wolfssl.certificate(a:der()):pem())
  end)
end)
