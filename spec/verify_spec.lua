-- A client refuses a server it cannot verify, and says which certificate and why.
local socket = require "socket"
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"
local peer = require "spec.helpers.peer"

local function server_ctx(name)
  return assert(wolfssl.context({ role = "server", certificate = certs.path(name .. ".pem"),
    key = certs.path(name .. ".key") }))
end

local function client_ctx(extra)
  local o = { role = "client", ca = certs.path("ca.pem") }
  for k, v in pairs(extra or {}) do o[k] = v end
  return assert(wolfssl.context(o))
end

describe("certificate verification (in memory)", function()
  it("rejects an unknown CA with verify_failed, naming the certificate", function()
    local p, err, code, side, pair = wolfssl.pair(client_ctx(), server_ctx("untrusted"), { server_name = "localhost" })
    assert.is_nil(p)
    assert.equal("client", side)
    assert.equal("verify_failed", code)
    assert.equal("certificate verify failed: unable to get local issuer certificate (depth 0, CN=localhost)"
      .. " (sent alert unknown_ca)", err)
    -- and the server hears why
    assert.equal("alert", pair.errors.server[2])
    assert.equal("handshake failed: received alert unknown_ca", pair.errors.server[1])
  end)

  it("rejects a certificate for another host", function()
    local p, err, code = wolfssl.pair(client_ctx(), server_ctx("wrong-host"), { server_name = "localhost" })
    assert.is_nil(p)
    assert.equal("verify_failed", code)
    assert.equal("certificate verify failed: hostname mismatch (depth 0, CN=wrong.test) (sent alert bad_certificate)", err)
  end)

  it("matches host names case-insensitively and ignores a trailing dot", function()
    assert.truthy(wolfssl.pair(client_ctx(), server_ctx("ec"), { server_name = "LocalHost." }))
  end)

  it("checks IP literals against the iPAddress names, v4 and v6, and sends no SNI", function()
    for _, ip in ipairs({ "127.0.0.1", "::1", "[::1]", "0:0:0:0:0:0:0:1" }) do
      local p = assert(wolfssl.pair(client_ctx(), server_ctx("ec"), { server_name = ip }))
      assert.is_true(p.client:info().verified)
      assert.is_nil(p.server:info().server_name) -- RFC 6066: no SNI for an address
    end
    local p, err, code = wolfssl.pair(client_ctx(), server_ctx("ec"), { server_name = "127.0.0.2" })
    assert.is_nil(p)
    assert.equal("verify_failed", code)
    assert.matches("IP address mismatch %(depth 0, CN=localhost%)", err)
  end)

  it("does not accept a DNS name that only looks like the IP", function()
    local p, _, code = wolfssl.pair(client_ctx(), server_ctx("wrong-host"), { server_name = "127.0.0.1" })
    assert.is_nil(p)
    assert.equal("verify_failed", code)
  end)

  it("accepts anything with verify = 'none', and says it did not verify", function()
    local p = assert(wolfssl.pair(client_ctx({ verify = "none" }), server_ctx("untrusted"), { server_name = "localhost" }))
    local info = p.client:info()
    assert.is_false(info.verified)
    assert.is_nil(info.verify_error)
  end)

  it("fails the same way on every later call, without re-running the handshake", function()
    local conn = client_ctx():connection({ server_name = "localhost" })
    local s = server_ctx("untrusted"):connection()
    conn:handshake(); s:feed(conn:take()); s:handshake(); conn:feed(s:take())
    local _, err1, code1 = conn:handshake()
    local _, err2, code2 = conn:handshake()
    assert.equal("verify_failed", code1)
    assert.equal(err1, err2)
    assert.equal(code1, code2)
    assert.equal(code1, select(3, conn:read()))
    assert.equal(code1, select(3, conn:write("x")))
  end)
end)

describe("certificate verification against openssl s_server", function()
  local server
  before_each(function()
    server = peer.s_server({ cert = certs.path("untrusted.pem"), key = certs.path("untrusted.key"), args = "-rev" })
  end)
  after_each(function() peer.stop(server) end)

  for _, transport in ipairs({ "memory", "fd" }) do
    it("reports verify_failed for an untrusted server (" .. transport .. ")", function()
      local sock = assert(socket.connect("127.0.0.1", server.port))
      finally(function() sock:close() end)
      local conn = assert(client_ctx():connection({ server_name = "localhost",
        fd = transport == "fd" and sock:getfd() or nil }))
      local ok, err, code
      if transport == "fd" then
        conn:settimeout(5)
        ok, err, code = conn:handshake()
      else
        ok, err, code = require("spec.helpers.drive").call(conn, sock, "handshake")
      end
      assert.is_nil(ok)
      assert.equal("verify_failed", code)
      assert.equal("certificate verify failed: unable to get local issuer certificate (depth 0, CN=localhost)"
        .. " (sent alert unknown_ca)", err)
      conn:close()
      sock:close()
    end)
  end
end)
