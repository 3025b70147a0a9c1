-- A server picks its certificate by the name the client asks for (SNI), or refuses the
-- name; a server decides per connection which certificate to present (on_certificate),
-- and may pause the handshake while it looks one up (TLS 1.3). Against openssl too.
local socket = require "socket"
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"
local contexts = require "spec.helpers.ctx"
local peer = require "spec.helpers.peer"
local tmp = require "spec.helpers.tmp"

local LUA = os.getenv("LW_LUA") or "lua5.4"
local q = tmp.quote

-- busted keeps one finally() per test: every peer process a test started is stopped here
after_each(function() peer.stop_all() end)

local server_ctx = contexts.server
local client_ctx = contexts.client

local function cn(conn) return conn:peer_certificate():subject()[1].value end

for _, version in ipairs({ "tls1.2", "tls1.3" }) do
  local V = { max_version = version }

  describe(version .. " on_sni", function()
    it("sees the name the client sent, and both sides can read it back", function()
      local seen = {}
      local sctx = server_ctx({ max_version = version, on_sni = function(conn, name)
        seen[#seen + 1] = { conn:role(), name }
      end })
      local p = assert(wolfssl.pair(client_ctx(V), sctx, { server_name = "localhost" }))
      assert.same({ { "server", "localhost" } }, seen)
      assert.equal("localhost", p.server:server_name())
      assert.equal("localhost", p.client:server_name())
      assert.equal("localhost", p.server:info().server_name)
    end)

    it("is called with nil when the client sent no name (an IP literal is never sent)", function()
      local seen = "not called"
      local sctx = server_ctx({ max_version = version, on_sni = function(conn, name) seen = name end })
      local p = assert(wolfssl.pair(client_ctx(V), sctx, { server_name = "127.0.0.1" }))
      assert.is_nil(seen)
      assert.is_nil(p.server:server_name())
      assert.is_true(p.client:info().verified) -- checked against the IP address SAN
    end)

    it("switches to the Context it returns, even from a server context with no certificate", function()
      local sites = { localhost = server_ctx(V, "ec"), ["wrong.test"] = server_ctx(V, "wrong-host") }
      local front = server_ctx({ max_version = version, on_sni = function(conn, name) return sites[name] end }, false)
      local a = assert(wolfssl.pair(client_ctx(V), front, { server_name = "localhost" }))
      assert.equal("localhost", cn(a.client))
      local b = assert(wolfssl.pair(client_ctx(V), front, { server_name = "wrong.test" }))
      assert.equal("wrong.test", cn(b.client))
      assert.is_true(b.client:info().verified)
      assert.equal("switched", b:transfer("client", "switched"))
    end)

    it("keeps the default certificate when it returns nil", function()
      local sctx = server_ctx({ max_version = version, on_sni = function() return nil end }, "rsa")
      local p = assert(wolfssl.pair(client_ctx(V), sctx, { server_name = "localhost" }))
      assert.equal(certs.read("rsa.pem"), p.client:peer_certificate():pem())
    end)

    it("refuses the name with unrecognized_name when it returns false, both sides saying so", function()
      local sctx = server_ctx({ max_version = version, on_sni = function() return false end })
      local p, err, code, side, pair = wolfssl.pair(client_ctx(V), sctx, { server_name = "localhost" })
      assert.is_nil(p)
      assert.equal("server", side)
      assert.equal("handshake_failed", code)
      assert.equal("handshake failed: on_sni refused the server name 'localhost' (sent alert unrecognized_name)", err)
      assert.same({ "handshake failed: received alert unrecognized_name", "alert" }, pair.errors.client)
    end)

    it("sends the alert it names with false", function()
      local sctx = server_ctx({ max_version = version, on_sni = function() return false, "access_denied" end })
      local _, err, _, _, pair = wolfssl.pair(client_ctx(V), sctx, { server_name = "localhost" })
      assert.matches("(sent alert access_denied)", err, 1, true)
      assert.same({ "handshake failed: received alert access_denied", "alert" }, pair.errors.client)
    end)

    it("sends the alert it gives by number, as on_client_hello does", function()
      local sctx = server_ctx({ max_version = version, on_sni = function() return false, 49 end })
      local _, err, _, _, pair = wolfssl.pair(client_ctx(V), sctx, { server_name = "localhost" })
      assert.matches("(sent alert access_denied)", err, 1, true)
      assert.same({ "handshake failed: received alert access_denied", "alert" }, pair.errors.client)
    end)

    for _, case in ipairs({
      { "throws", function() error("name service down") end, "name service down" },
      { "returns a number", function() return 42 end, "on_sni must return nil, a Context or false %(got number%)" },
      { "returns a client Context", function() return client_ctx() end, "context has the wrong role" },
      { "names an unknown alert", function() return false, "no_such_alert" end, "on_sni returned an unknown alert 'no_such_alert'" },
      { "gives an alert number out of range", function() return false, 300 end, "on_sni returned an unknown alert '300'" },
    }) do
      it("fails the handshake as a callback error when it " .. case[1], function()
        local sctx = server_ctx({ max_version = version, on_sni = case[2] })
        local p, err, code, side, pair = wolfssl.pair(client_ctx(V), sctx, { server_name = "localhost" })
        assert.is_nil(p)
        assert.equal("server", side)
        assert.equal("callback", code)
        assert.matches("^callback error: .*" .. case[3], err)
        assert.same({ "handshake failed: received alert internal_error", "alert" }, pair.errors.client)
      end)
    end

    for _, case in ipairs({
      { "closes", function(conn) conn:close() end, "cannot close a connection from inside its own callback" },
      { "drives", function(conn) conn:read() end, "cannot drive a connection from inside its own callback" },
    }) do
      it("cannot pull the connection from under wolfSSL: a callback that " .. case[1] .. " it fails", function()
        local sctx = server_ctx({ max_version = version, on_sni = case[2] })
        local p, err, code, _, pair = wolfssl.pair(client_ctx(V), sctx, { server_name = "localhost" })
        assert.is_nil(p)
        assert.equal("callback", code)
        assert.matches(case[3], err, 1, true)
        assert.is_false(pair.server:is_closed())
      end)
    end

    it("can be set after the context is made, with ctx:on", function()
      local sctx = server_ctx(V)
      local called = false
      sctx:on("on_sni", function() called = true end)
      assert(wolfssl.pair(client_ctx(V), sctx, { server_name = "localhost" }))
      assert.is_true(called)
    end)
  end)

  describe(version .. " on_certificate", function()
    it("runs after on_sni and on_alpn, and its conn:use_certificate is what the client gets", function()
      local order = {}
      local sctx = server_ctx({
        max_version = version, alpn = { "h2" },
        on_sni = function() order[#order + 1] = "sni" end,
        on_alpn = function(conn, offered) order[#order + 1] = "alpn"; return offered[1] end,
        on_certificate = function(conn)
          order[#order + 1] = "certificate"
          assert(conn:use_certificate(certs.path("wrong-host.pem"), certs.path("wrong-host.key")))
        end,
      })
      local p = assert(wolfssl.pair(client_ctx({ max_version = version, alpn = { "h2" } }), sctx,
        { server_name = "wrong.test" }))
      assert.same({ "sni", "alpn", "certificate" }, order)
      assert.equal("wrong.test", cn(p.client))
    end)

    it("fails the handshake with alert internal_error when it returns false", function()
      local sctx = server_ctx({ max_version = version, on_certificate = function() return false end })
      local p, err, code, _, pair = wolfssl.pair(client_ctx(V), sctx, { server_name = "localhost" })
      assert.is_nil(p)
      assert.equal("handshake_failed", code)
      -- (in TLS 1.2 wolfSSL follows internal_error with a handshake_failure alert, and
      -- its alert history names the last one)
      assert.matches("^handshake failed: on_certificate refused the handshake %(sent alert", err)
      assert.same({ "handshake failed: received alert internal_error", "alert" }, pair.errors.client)
    end)

    for _, case in ipairs({
      { "throws", function() error("no certificate store") end, "no certificate store" },
      { "returns a string", function() return "yes" end, "on_certificate must return nil, true, false or wolfssl.PAUSE %(got string%)" },
    }) do
      it("fails the handshake as a callback error when it " .. case[1], function()
        local sctx = server_ctx({ max_version = version, on_certificate = case[2] })
        local p, err, code = wolfssl.pair(client_ctx(V), sctx, { server_name = "localhost" })
        assert.is_nil(p)
        assert.equal("callback", code)
        assert.matches("^callback error: .*" .. case[3], err)
      end)
    end
  end)
end

describe("on_certificate returning wolfssl.PAUSE", function()
  it("suspends a TLS 1.3 handshake until handshake() is called again, and is asked again", function()
    local calls, ready = 0, false
    local front = server_ctx({ on_certificate = function(conn)
      calls = calls + 1
      if not ready then return wolfssl.PAUSE end
      assert(conn:use_certificate(certs.path("rsa.pem"), certs.path("rsa.key")))
    end }, false)
    local p = assert(wolfssl.pair(client_ctx(), front, { server_name = "localhost", handshake = false }))
    local ok, err, code, side = p:handshake()
    assert.is_nil(ok)
    assert.same({ "paused", "paused", "server" }, { err, code, side })
    assert.same({ nil, "paused", "paused" }, { p.server:handshake() }) -- still waiting
    ready = true -- the asynchronous lookup finished
    assert.is_true(p:handshake())
    assert.equal(3, calls)
    assert.equal(certs.read("rsa.pem"), p.client:peer_certificate():pem())
  end)

  it("is a clear callback error in TLS 1.2, where wolfSSL cannot suspend it", function()
    local sctx = server_ctx({ max_version = "tls1.2", on_certificate = function() return wolfssl.PAUSE end })
    local p, err, code = wolfssl.pair(client_ctx(), sctx, { server_name = "localhost" })
    assert.is_nil(p)
    assert.equal("callback", code)
    assert.equal("callback error: on_certificate cannot pause a TLS 1.2 handshake (wolfSSL supports that "
      .. "only in TLS 1.3); pause in on_client_hello instead", err)
  end)
end)

describe("SNI against openssl", function()
  local function serve_one(ctx, port_cb)
    local listener, port = peer.listen()
    listener:settimeout(10)
    local client = port_cb(port)
    local sock = assert(listener:accept())
    listener:close()
    local conn = assert(ctx:connection({ fd = sock:getfd() }))
    conn:settimeout(5)
    local ok, err, code = conn:handshake()
    if ok then conn:write("hello " .. tostring(conn:server_name()) .. "\n"); conn:shutdown() end
    conn:close()
    sock:close()
    assert.is_true(peer.wait(client, 5), "s_client did not exit")
    peer.stop(client)
    return ok, err, code, peer.output(client)
  end

  local sites, front
  before_each(function()
    sites = { localhost = server_ctx(nil, "ec"), ["wrong.test"] = server_ctx(nil, "wrong-host") }
    front = server_ctx({ on_sni = function(conn, name) return sites[name] or false end }, false)
  end)

  for _, name in ipairs({ "localhost", "wrong.test" }) do
    it("gives openssl s_client -servername " .. name .. " that name's certificate", function()
      local ok, err, _, out = serve_one(front, function(port)
        return peer.s_client(port, { input = "", args = ("-servername %s -verify_hostname %s -CAfile %s -verify_return_error -ign_eof")
          :format(name, name, q(certs.path("ca.pem"))) })
      end)
      assert.is_true(ok, err)
      assert.matches("subject=CN = " .. name, out, 1, true)
      assert.matches("Verify return code: 0 (ok)", out, 1, true)
      assert.matches("hello " .. name, out, 1, true)
    end)
  end

  it("refuses an unknown name to openssl s_client with alert unrecognized_name", function()
    local ok, err, code, out = serve_one(front, function(port)
      return peer.s_client(port, { args = "-servername nobody.test -CAfile " .. q(certs.path("ca.pem")) })
    end)
    assert.is_nil(ok)
    assert.equal("handshake_failed", code)
    assert.matches("on_sni refused the server name 'nobody.test'", err, 1, true)
    assert.matches("unrecognized name", out, 1, true) -- "tlsv1 unrecognized name ... alert number 112"
  end)

  it("is sent by a lua-wolfssl client, so openssl s_server picks its second certificate", function()
    local server = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"), args =
      ("-servername wrong.test -cert2 %s -key2 %s -www"):format(q(certs.path("wrong-host.pem")), q(certs.path("wrong-host.key"))) })
    finally(function() peer.stop(server) end)
    for _, name in ipairs({ "wrong.test", "localhost" }) do
      local tcp = assert(socket.connect("127.0.0.1", server.port))
      local conn = assert(client_ctx():connection({ server_name = name, fd = tcp:getfd() }))
      conn:settimeout(5)
      assert.is_true(conn:handshake())
      assert.equal(name, cn(conn))
      conn:close()
      tcp:close()
    end
  end)

end)

describe("examples/sni_server.lua", function()
  it("serves two names with their own certificates and refuses a third", function()
    local port = peer.free_port()
    local proc = peer.spawn(("%s examples/sni_server.lua %d localhost %s %s wrong.test %s %s 3"):format(LUA, port,
      q(certs.path("ec.pem")), q(certs.path("ec.key")), q(certs.path("wrong-host.pem")), q(certs.path("wrong-host.key"))),
      { lua = true })
    finally(function() peer.stop(proc) end)
    peer.wait_port(port, proc)
    -- wait_port's probe connection was the first of the 3 clients
    for _, name in ipairs({ "localhost", "wrong.test" }) do
      local tcp = assert(socket.connect("127.0.0.1", port))
      local conn = assert(client_ctx():connection({ server_name = name, fd = tcp:getfd() }))
      conn:settimeout(5)
      assert.is_true(conn:handshake())
      assert.equal(name, cn(conn))
      local line = ""
      while not line:find("\n") do line = line .. assert(conn:read()) end
      assert.equal("hello from " .. name .. "\n", line)
      conn:close()
      tcp:close()
    end
    assert.is_true(peer.wait(proc, 5))
    local out = peer.output(proc)
    assert.matches("localhost: TLSv1.3, certificate for localhost", out, 1, true)
    assert.matches("wrong.test: TLSv1.3, certificate for wrong.test", out, 1, true)
  end)

  it("refuses a name it does not serve", function()
    local port = peer.free_port()
    local proc = peer.spawn(("%s examples/sni_server.lua %d localhost %s %s wrong.test %s %s 2"):format(LUA, port,
      q(certs.path("ec.pem")), q(certs.path("ec.key")), q(certs.path("wrong-host.pem")), q(certs.path("wrong-host.key"))),
      { lua = true })
    finally(function() peer.stop(proc) end)
    peer.wait_port(port, proc)
    local tcp = assert(socket.connect("127.0.0.1", port))
    local conn = assert(client_ctx():connection({ server_name = "other.test", fd = tcp:getfd() }))
    conn:settimeout(5)
    assert.same({ nil, "handshake failed: received alert unrecognized_name", "alert" }, { conn:handshake() })
    conn:close()
    tcp:close()
    assert.is_true(peer.wait(proc, 5))
    assert.matches("refused: handshake failed: on_sni refused the server name 'other.test'", peer.output(proc), 1, true)
  end)
end)
