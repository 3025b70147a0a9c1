-- Key material of a connection: the exporter (RFC 5705 / RFC 8446 7.5), the Finished
-- values, the hello randoms, NSS key-log lines (TLS 1.2), KeyUpdate (TLS 1.3), and a
-- peer's renegotiation attempt failing cleanly. Exporter and key log agree with openssl.
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
local client_ctx = contexts.localhost_client

local function hex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end

-- A lua-wolfssl server for one openssl s_client; returns the server connection (handshake
-- done, closed afterwards) and s_client's output.
local function serve_s_client(ctx, args, input, inspect)
  local listener, port = peer.listen()
  listener:settimeout(10)
  local client = peer.s_client(port, { input = input or "", args = args })
  finally(function() peer.stop(client) end)
  local sock = assert(listener:accept())
  listener:close()
  local conn = assert(ctx:connection({ fd = sock:getfd() }))
  conn:settimeout(5)
  assert.is_true(conn:handshake())
  local result = inspect(conn)
  conn:shutdown()
  conn:close()
  sock:close()
  assert.is_true(peer.wait(client, 5), "s_client did not exit")
  peer.stop(client)
  return result, peer.output(client)
end

for _, version in ipairs({ "tls1.2", "tls1.3" }) do
  local V = { max_version = version }

  describe(version .. " key material", function()
    local p
    before_each(function() p = assert(wolfssl.pair(client_ctx(V), server_ctx(V))) end)

    it("exports the same keying material on both sides, bound to label and context", function()
      local c = p.client:export_keying_material("EXPORTER-lua-test", 32)
      assert.equal(32, #c)
      assert.equal(c, p.server:export_keying_material("EXPORTER-lua-test", 32))
      assert.not_equal(c, p.client:export_keying_material("EXPORTER-other", 32))
      local with = p.client:export_keying_material("EXPORTER-lua-test", 32, "ctx")
      assert.equal(with, p.server:export_keying_material("EXPORTER-lua-test", 32, "ctx"))
      assert.not_equal(c, with)
      if version == "tls1.3" then -- RFC 8446 7.5: no context and an empty one are the same
        assert.equal(c, p.client:export_keying_material("EXPORTER-lua-test", 32, ""))
      else                        -- RFC 5705 4: they are not
        assert.not_equal(c, p.client:export_keying_material("EXPORTER-lua-test", 32, ""))
      end
      assert.same({ nil, "cannot export keying material for label 'client finished' (a reserved label?)", "bad_input" },
        { p.client:export_keying_material("client finished", 16) })
      assert.has_error(function() p.client:export_keying_material("x", 0) end)
      assert.has_error(function() client_ctx():connection():export_keying_material("x", 8) end,
        "export_keying_material: the handshake is not done")
    end)

    it("gives each side's Finished and the peer's, and the hello randoms", function()
      local n = version == "tls1.3" and 32 or 12
      assert.equal(n, #p.client:finished())
      assert.equal(p.client:finished(), p.server:peer_finished())
      assert.equal(p.server:finished(), p.client:peer_finished())
      assert.not_equal(p.client:finished(), p.server:finished())
      assert.equal(32, #p.client:client_random())
      assert.equal(p.client:client_random(), p.server:client_random())
      assert.equal(p.client:server_random(), p.server:server_random())
      assert.not_equal(p.client:client_random(), p.client:server_random())
    end)
  end)

  it(version .. " exporter equals openssl s_client -keymatexport", function()
    local ctx = server_ctx(V)
    local mine, out = serve_s_client(ctx, ("-keymatexport EXPERIMENTAL-lua -keymatexportlen 24 -servername localhost -CAfile %s")
      :format(q(certs.path("ca.pem"))), nil, function(conn) return conn:export_keying_material("EXPERIMENTAL-lua", 24) end)
    local theirs = out:match("Keying material: (%x+)")
    assert.truthy(theirs, out)
    assert.equal(theirs:lower(), hex(mine))
  end)
end

describe("the TLS 1.2 key log", function()
  it("is the CLIENT_RANDOM line openssl s_client writes with -keylogfile", function()
    local file = tmp.path("openssl-keylog.txt")
    local line = serve_s_client(server_ctx({ max_version = "tls1.2" }),
      ("-keylogfile %s -servername localhost -CAfile %s"):format(q(file), q(certs.path("ca.pem"))), nil,
      function(conn) return assert(conn:keylog()) end)
    assert.matches("^CLIENT_RANDOM %x+ %x+$", line)
    local theirs = tmp.read(file)
    assert.truthy(theirs)
    assert.truthy(theirs:find(line, 1, true), theirs .. "\n---\n" .. line)
  end)

  it("is written by the keylog option to a file or a function, on both sides", function()
    local file = tmp.path("lua-keylog.txt")
    local lines = {}
    local sctx = server_ctx({ max_version = "tls1.2", keylog = function(line) lines[#lines + 1] = line end })
    local p = assert(wolfssl.pair(client_ctx({ max_version = "tls1.2", keylog = file }), sctx))
    assert.same({ p.server:keylog() }, lines)
    assert.equal(p.client:keylog() .. "\n", tmp.read(file))
    assert.equal(p.client:keylog(), p.server:keylog())
  end)

  it("goes to $SSLKEYLOGFILE only for keylog = true (opt-in)", function()
    local file = tmp.path("env-keylog.txt")
    local script = tmp.write("keylog-child.lua", ([[
      local wolfssl = require "wolfssl"
      local ca, ec, key, opt = %q, %q, %q, arg[1] == "on"
      local s = assert(wolfssl.context({ role = "server", certificate = ec, key = key, max_version = "tls1.2" }))
      local c = assert(wolfssl.context({ role = "client", ca = ca, server_name = "localhost", keylog = opt or nil }))
      local p = assert(wolfssl.pair(c, s))
      print(p.client:keylog())
    ]]):format(certs.path("ca.pem"), certs.path("ec.pem"), certs.path("ec.key")))
    for _, mode in ipairs({ "off", "on" }) do
      local proc = peer.spawn(("env SSLKEYLOGFILE=%s %s %s %s"):format(q(file), LUA, q(script), mode), { lua = true })
      assert.is_true(peer.wait(proc, 10))
      peer.stop(proc)
      local line = peer.output(proc):match("(CLIENT_RANDOM %x+ %x+)")
      assert.truthy(line, peer.output(proc))
      if mode == "off" then
        assert.is_nil(tmp.read(file))
      else
        assert.equal(line .. "\n", tmp.read(file))
      end
    end
  end)

  it("reports a keylog function that throws as a callback error", function()
    local p, err, code = wolfssl.pair(client_ctx({ max_version = "tls1.2", keylog = function() error("log full") end }),
      server_ctx())
    assert.is_nil(p)
    assert.equal("callback", code)
    assert.matches("log full", err)
    local ctx, cerr = wolfssl.context({ role = "client", keylog = "/nonexistent/dir/keylog" })
    assert.is_nil(ctx)
    assert.matches("^cannot open the key log:", cerr)
  end)
end)

describe("the TLS 1.3 key log", function()
  it("says why it is not available with this wolfSSL build", function()
    local lines = {}
    local p = assert(wolfssl.pair(client_ctx({ keylog = function(l) lines[#lines + 1] = l end }), server_ctx()))
    assert.same({ nil, "TLS 1.3 key log lines need wolfSSL's secret callbacks (HAVE_SECRET_CALLBACK), "
      .. "which this wolfSSL build does not have", "unsupported" }, { p.client:keylog() })
    assert.same({}, lines) -- nothing half-true is logged
  end)
end)

describe("key_update()", function()
  it("updates the TLS 1.3 keys from either side while data keeps flowing both ways", function()
    local p = assert(wolfssl.pair(client_ctx(), server_ctx()))
    assert.is_true(p.client:key_update())
    assert.is_true(p.client:pending() > 0) -- the KeyUpdate record is written at once
    assert.equal("after the client's update", p:transfer("client", "after the client's update"))
    assert.equal("and back", p:transfer("server", "and back"))
    assert.is_true(p.server:key_update())
    assert.equal("after the server's update", p:transfer("server", "after the server's update"))
    assert.equal("still fine", p:transfer("client", "still fine"))
  end)

  it("is refused for TLS 1.2, before the handshake, and after close", function()
    local p = assert(wolfssl.pair(client_ctx({ max_version = "tls1.2" }), server_ctx()))
    assert.same({ nil, "key_update needs TLS 1.3 (this connection is TLSv1.2)", "unsupported" }, { p.client:key_update() })
    assert.has_error(function() client_ctx():connection():key_update() end, "key_update: the handshake is not done")
    p.client:close()
    assert.same({ nil, "connection is closed", "closed" }, { p.client:key_update() })
  end)
end)

describe("a peer's renegotiation attempt", function()
  it("(openssl s_client's R) fails the lua-wolfssl server's read with a message that says so", function()
    local listener, port = peer.listen()
    listener:settimeout(10)
    -- R must come on its own line after the handshake; bash's <(…) feeds it late while
    -- the PID peer.stop kills is openssl's own
    local client = peer.spawn("bash -c " .. q(("exec openssl s_client -connect 127.0.0.1:%d -tls1_2 -servername localhost "
      .. "-CAfile %s < <(sleep 0.5; printf 'R\\n'; sleep 3)"):format(port, q(certs.path("ca.pem")))))
    local sock = assert(listener:accept())
    listener:close()
    finally(function() sock:close(); peer.stop(client) end)
    local conn = assert(server_ctx({ max_version = "tls1.2" }):connection({ fd = sock:getfd() }))
    conn:settimeout(5)
    assert.is_true(conn:handshake())
    local data, err, code = conn:read()
    assert.is_nil(data)
    assert.equal("handshake_failed", code)
    assert.equal("read failed: the peer tried to renegotiate, which is not supported (sent alert unexpected_message)", err)
    assert.same({ nil, err, code }, { conn:read() }) -- latched
    conn:close()
  end)

  it("(openssl s_server's r) ends the lua-wolfssl client's connection with a message that says so", function()
    local port = peer.free_port()
    local server = peer.spawn("bash -c " .. q(("exec openssl s_server -accept 127.0.0.1:%d -cert %s -key %s -tls1_2 "
      .. "< <(sleep 2; printf 'r\\n'; sleep 4)"):format(port, q(certs.path("ec.pem")), q(certs.path("ec.key")))))
    peer.wait_port(port, server)
    local tcp = assert(socket.connect("127.0.0.1", port))
    finally(function() tcp:close(); peer.stop(server) end)
    local conn = assert(client_ctx():connection({ fd = tcp:getfd() }))
    conn:settimeout(8)
    assert.is_true(conn:handshake())
    local data, err, code = conn:read() -- wolfSSL answers the HelloRequest with no_renegotiation
    assert.is_nil(data)
    assert.equal("alert", code)
    assert.matches("the peer asked to renegotiate, which is not supported", err, 1, true)
    conn:close()
  end)
end)
