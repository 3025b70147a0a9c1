-- A server chooses the application protocol (ALPN) from what the client offers: by its
-- own list (its preference first; no overlap is refused, RFC 7301 3.2) or by on_alpn.
-- Both sides see the choice in info().alpn, and both see the refusal.
local socket = require "socket"
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"
local contexts = require "spec.helpers.ctx"
local peer = require "spec.helpers.peer"
local tmp = require "spec.helpers.tmp"

local q = tmp.quote

-- busted keeps one finally() per test: every peer process a test started is stopped here
after_each(function() peer.stop_all() end)

local server_ctx = contexts.server
local client_ctx = contexts.localhost_client

local REFUSED = { "handshake failed: received alert no_application_protocol", "alert" }

for _, version in ipairs({ "tls1.2", "tls1.3" }) do
  local function both(extra) extra = extra or {}; extra.max_version = version; return extra end

  describe(version .. " ALPN with the server's list", function()
    it("picks the server's favourite among those the client offers", function()
      local p = assert(wolfssl.pair(client_ctx(both({ alpn = { "h2", "http/1.1" } })),
        server_ctx(both({ alpn = { "http/1.1", "h2" } }))))
      assert.equal("http/1.1", p.client:info().alpn)
      assert.equal("http/1.1", p.server:info().alpn)
    end)

    it("takes a single shared protocol, and a per-connection client list", function()
      local sctx = server_ctx(both({ alpn = { "http/1.1", "h2" } }))
      local p = assert(wolfssl.pair(client_ctx(both({ alpn = "h2" })), sctx))
      assert.equal("h2", p.client:info().alpn)
      p = assert(wolfssl.pair(client_ctx(both({ alpn = "h2" })), sctx, { client = { alpn = { "acme", "http/1.1" } } }))
      assert.equal("http/1.1", p.server:info().alpn)
    end)

    it("refuses a client it shares no protocol with, and both sides say so", function()
      local p, err, code, side, pair = wolfssl.pair(client_ctx(both({ alpn = { "spdy/3", "acme" } })),
        server_ctx(both({ alpn = { "h2" } })))
      assert.is_nil(p)
      assert.equal("server", side)
      assert.equal("handshake_failed", code)
      assert.equal("handshake failed: no application protocol in common (client offered: spdy/3, acme) "
        .. "(sent alert no_application_protocol)", err)
      assert.same(REFUSED, pair.errors.client)
    end)

    it("leaves ALPN out when the client offers none", function()
      local p = assert(wolfssl.pair(client_ctx(both()), server_ctx(both({ alpn = { "h2" } }))))
      assert.is_nil(p.client:info().alpn)
      assert.is_nil(p.server:info().alpn)
    end)
  end)

  describe(version .. " on_alpn", function()
    it("gets the offered protocols in the client's order and chooses one", function()
      local offered
      local sctx = server_ctx(both({ alpn = { "h2" }, on_alpn = function(conn, list)
        assert.equal("server", conn:role())
        offered = list
        return list[2]
      end }))
      local p = assert(wolfssl.pair(client_ctx(both({ alpn = { "h2", "http/1.1", "acme" } })), sctx))
      assert.same({ "h2", "http/1.1", "acme" }, offered)
      assert.equal("http/1.1", p.client:info().alpn) -- on_alpn wins over the list
      assert.equal("http/1.1", p.server:info().alpn)
    end)

    it("goes on without ALPN when it returns nil", function()
      local p = assert(wolfssl.pair(client_ctx(both({ alpn = { "h2" } })),
        server_ctx(both({ on_alpn = function() return nil end }))))
      assert.is_nil(p.client:info().alpn)
      assert.is_nil(p.server:info().alpn)
    end)

    it("refuses with alert no_application_protocol when it returns false", function()
      local p, err, code, _, pair = wolfssl.pair(client_ctx(both({ alpn = { "h2" } })),
        server_ctx(both({ on_alpn = function() return false end })))
      assert.is_nil(p)
      assert.equal("handshake_failed", code)
      assert.equal("handshake failed: on_alpn refused every protocol (client offered: h2) "
        .. "(sent alert no_application_protocol)", err)
      assert.same(REFUSED, pair.errors.client)
    end)

    for _, case in ipairs({
      { "throws", function() error("router is down") end, "router is down" },
      { "returns a protocol nobody offered", function() return "gopher" end,
        "on_alpn returned 'gopher', which the client did not offer" },
      { "returns a table", function() return {} end, "on_alpn must return a protocol name, nil or false %(got table%)" },
    }) do
      it("fails the handshake as a callback error when it " .. case[1], function()
        local p, err, code, side, pair = wolfssl.pair(client_ctx(both({ alpn = { "h2" } })),
          server_ctx(both({ on_alpn = case[2] })))
        assert.is_nil(p)
        assert.equal("server", side)
        assert.equal("callback", code)
        assert.matches("^callback error: .*" .. case[3], err)
        assert.same(REFUSED, pair.errors.client)
      end)
    end
  end)
end

describe("ALPN against openssl", function()
  it("lets a lua-wolfssl server choose for openssl s_client, and refuse it", function()
    local ctx = server_ctx({ alpn = { "http/1.1", "h2" } })
    for _, case in ipairs({ { "h2,http/1.1", "ALPN protocol: http/1.1" }, { "spdy/3", "no application protocol" } }) do
      local listener, port = peer.listen()
      listener:settimeout(10)
      local client = peer.s_client(port, { input = "", args = ("-alpn %s -servername localhost -CAfile %s")
        :format(case[1], q(certs.path("ca.pem"))) })
      finally(function() peer.stop(client) end)
      local sock = assert(listener:accept())
      listener:close()
      local conn = assert(ctx:connection({ fd = sock:getfd() }))
      conn:settimeout(5)
      local ok, err = conn:handshake()
      if case[1] == "spdy/3" then
        assert.is_nil(ok)
        assert.matches("no application protocol in common (client offered: spdy/3)", err, 1, true)
      else
        assert.is_true(ok, err)
        assert.equal("http/1.1", conn:info().alpn)
        conn:shutdown()
      end
      conn:close()
      sock:close()
      assert.is_true(peer.wait(client, 5))
      peer.stop(client)
      assert.matches(case[2], peer.output(client), 1, true)
    end
  end)

  it("is offered by a lua-wolfssl client and chosen by openssl s_server", function()
    local server = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"), args = "-alpn http/1.1 -www" })
    local tcp = assert(socket.connect("127.0.0.1", server.port))
    finally(function() tcp:close(); peer.stop(server) end)
    local conn = assert(client_ctx({ alpn = { "h2", "http/1.1" } }):connection({ fd = tcp:getfd() }))
    conn:settimeout(5)
    assert.is_true(conn:handshake())
    assert.equal("http/1.1", conn:info().alpn)
    conn:close()
  end)
end)
