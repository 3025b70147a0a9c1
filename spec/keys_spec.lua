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

  it(version .. " randoms are nil until their hello is made or received", function()
    local c = client_ctx(V):connection({ server_name = "localhost" })
    local s = server_ctx(V):connection()
    assert.is_nil(c:client_random())
    assert.is_nil(c:server_random())
    c:handshake() -- the ClientHello is made
    assert.equal(32, #c:client_random())
    assert.is_nil(c:server_random())
    assert.is_nil(s:client_random())
    s:feed(c:take())
    s:handshake() -- the server reads it and answers
    assert.equal(c:client_random(), s:client_random())
    assert.equal(32, #s:server_random())
    c:feed(s:take())
    c:handshake()
    assert.equal(s:server_random(), c:server_random())
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

-- The lines one key-log file (or conn:keylog() text) has for one client random, sorted
local function lines_for(text, random_hex)
  local out = {}
  for line in (text or ""):gmatch("[^\n]+") do
    if line:find(" " .. random_hex .. " ", 1, true) then out[#out + 1] = line end
  end
  table.sort(out)
  return out
end

local TLS13_LABELS = { "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "EXPORTER_SECRET",
  "SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0" }

-- the five TLS 1.3 lines for one connection, each secret `n` bytes long
local function assert_tls13_lines(lines, random_hex, n)
  assert.equal(5, #lines, table.concat(lines, "\n"))
  for i, label in ipairs(TLS13_LABELS) do
    assert.matches("^" .. label .. " " .. random_hex .. " " .. ("%x"):rep(2 * n) .. "$", lines[i])
  end
end

describe("the TLS 1.3 key log", function()
  -- what each handshake kind needs: s_client/s_server arguments, the lua-wolfssl side's
  -- context options, and the secret length
  local KINDS = {
    { name = "full handshake", n = 32 },
    { name = "resumed handshake", n = 32, resume = true },
    { name = "HelloRetryRequest", n = 32, hrr = true },
    { name = "TLS_AES_256_GCM_SHA384 handshake", n = 48, sha384 = true },
  }

  describe("equals openssl s_client -keylogfile for the same connection (lua-wolfssl server)", function()
    for _, kind in ipairs(KINDS) do
      it("for a " .. kind.name, function()
        local hrr = false
        local sctx = server_ctx({ max_version = "tls1.3", keylog = function() end,
          groups = kind.hrr and { "P-256" } or nil,
          on_message = function(_, m) if m.type == "hello_retry_request" then hrr = true end end })
        local ca = q(certs.path("ca.pem"))
        local args = "-tls1_3 -servername localhost -CAfile " .. ca
          .. (kind.sha384 and " -ciphersuites TLS_AES_256_GCM_SHA384" or "")
        if kind.resume then -- a first connection for the session, then the measured one
          local sess = tmp.path("keylog-s_client.sess")
          -- -ign_eof: s_client waits for the server to close, so the ticket has arrived
          serve_s_client(sctx, args .. " -ign_eof -sess_out " .. q(sess), nil, function() end)
          assert.truthy(tmp.read(sess), "s_client saved no session")
          args = args .. " -sess_in " .. q(sess)
        end
        local file = tmp.path("s_client-" .. kind.name:gsub("%W", "") .. ".keys")
        os.remove(file)
        local mine = serve_s_client(sctx, args .. " -keylogfile " .. q(file), nil, function(conn)
          assert.equal(kind.resume == true, conn:info().resumed)
          assert.equal(kind.sha384 and "TLS_AES_256_GCM_SHA384" or "TLS_CHACHA20_POLY1305_SHA256", conn:info().cipher) -- the server default (README, Performance)
          return { random = hex(conn:client_random()), log = assert(conn:keylog()) }
        end)
        assert.equal(kind.hrr == true, hrr)
        local lines = lines_for(mine.log, mine.random)
        assert_tls13_lines(lines, mine.random, kind.n)
        assert.same(lines_for(tmp.read(file), mine.random), lines)
      end)
    end
  end)

  describe("equals openssl s_server -keylogfile for the same connection (lua-wolfssl client)", function()
    for _, kind in ipairs(KINDS) do
      it("for a " .. kind.name, function()
        local file = tmp.path("s_server-" .. kind.name:gsub("%W", "") .. ".keys")
        os.remove(file)
        local server = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"),
          args = "-www -tls1_3 -keylogfile " .. q(file) .. (kind.hrr and " -groups P-256" or "")
            .. (kind.sha384 and " -ciphersuites TLS_AES_256_GCM_SHA384" or "") })
        local hrr = false
        local ctx = client_ctx({ max_version = "tls1.3",
          on_message = function(_, m) if m.type == "hello_retry_request" then hrr = true end end })
        local function fetch(session)
          local tcp = assert(socket.connect("127.0.0.1", server.port))
          local conn = assert(ctx:connection({ fd = tcp:getfd(), session = session, keylog = true }))
          conn:settimeout(5)
          assert(conn:handshake())
          assert(conn:write("GET / HTTP/1.0\r\n\r\n"))
          repeat local data = conn:read() until not data
          local r = { session = conn:session(2), info = conn:info(), random = hex(conn:client_random()),
            log = assert(conn:keylog()) }
          conn:close()
          tcp:close()
          return r
        end
        local r = fetch()
        if kind.resume then r = fetch(assert(r.session)) end
        assert.equal(kind.resume == true, r.info.resumed)
        assert.equal(kind.hrr == true, hrr)
        local lines = lines_for(r.log, r.random)
        assert_tls13_lines(lines, r.random, kind.n)
        assert.same(lines_for(tmp.read(file), r.random), lines)
      end)
    end
  end)

  it("gives both sides the same lines, to the keylog function as each secret is derived", function()
    local seen = {}
    local function sink(side) return function(line, conn)
      seen[#seen + 1] = { side = side, label = line:match("^%S+"), done = conn:info().version ~= nil }
    end end
    local p = assert(wolfssl.pair(client_ctx({ keylog = sink("client") }), server_ctx({ keylog = sink("server") })))
    assert.equal(p.client:keylog(), p.server:keylog())
    assert_tls13_lines(lines_for(p.client:keylog(), hex(p.client:client_random())), hex(p.client:client_random()), 32)
    assert.equal(10, #seen)
    for _, s in ipairs(seen) do assert.is_false(s.done, s.side .. " " .. s.label) end -- during the handshake
  end)

  it("keeps the handshake secrets of a handshake that fails", function()
    local lines = {}
    local ctx = client_ctx({ keylog = function(line) lines[#lines + 1] = line:match("^%S+") end })
    local p, _, code = wolfssl.pair(ctx, server_ctx({ certificate = certs.path("untrusted.pem"),
      key = certs.path("untrusted.key") }))
    assert.is_nil(p)
    assert.equal("verify_failed", code)
    table.sort(lines)
    assert.same({ "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET" }, lines)
  end)

  it("is kept for conn:keylog() with ctx:connection{keylog = true}, and otherwise keylog() says why", function()
    local cctx, sctx = client_ctx(), server_ctx()
    local p = assert(wolfssl.pair(cctx, sctx, { client = { keylog = true } }))
    assert_tls13_lines(lines_for(p.client:keylog(), hex(p.client:client_random())), hex(p.client:client_random()), 32)
    assert.same({ nil, "TLS 1.3 secrets are kept only by connections that asked for a key log before the "
      .. "handshake (the keylog context option, or ctx:connection{keylog = true})", "unsupported" }, { p.server:keylog() })
    -- a context whose key log was on for one connection logs nothing for the next
    local again = assert(wolfssl.pair(cctx, sctx))
    assert.same({ nil, "unsupported" }, { again.client:keylog(), select(3, again.client:keylog()) })
    assert.has_error(function() p.client:set_keylog(true) end, "set_keylog: the connection has already started")
    assert.has_error(function() cctx:connection({ keylog = 42 }) end)
  end)

  it("a connection's own keylog function or file takes the place of the context's", function()
    local ctx_lines, conn_lines = {}, {}
    local file = tmp.path("conn-keylog.txt")
    local sctx = server_ctx({ keylog = function(l) ctx_lines[#ctx_lines + 1] = l end })
    local p = assert(wolfssl.pair(client_ctx(), sctx, {
      server = { keylog = function(l) conn_lines[#conn_lines + 1] = l end }, client = { keylog = file } }))
    assert.same({}, ctx_lines)
    assert.equal(5, #conn_lines)
    assert.equal(p.client:keylog() .. "\n", tmp.read(file))
  end)

  it("does not mix in the secrets of a connection driven from inside its key-log callback", function()
    local cctx, sctx = client_ctx(), server_ctx()
    assert(wolfssl.pair(cctx, sctx, { client = { keylog = true } })) -- hooks both contexts
    local inner
    local p = assert(wolfssl.pair(cctx, sctx, { client = { keylog = function()
      if not inner then inner = assert(wolfssl.pair(cctx, sctx)) end -- an untraced pair, same contexts
    end }, server = { keylog = true } }))
    assert.truthy(inner)
    assert.equal(p.server:keylog(), p.client:keylog())
  end)

  it("reports a keylog function that throws as a callback error", function()
    local p, err, code = wolfssl.pair(client_ctx({ keylog = function() error("log full") end }), server_ctx())
    assert.is_nil(p)
    assert.equal("callback", code)
    assert.matches("log full", err)
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
