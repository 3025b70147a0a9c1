-- A server script sees the decoded ClientHello before wolfSSL answers it, and decides:
-- go on, switch context or certificate, choose ALPN, reject with an alert, or pause for
-- asynchronous work and resume later without losing a byte. TLS 1.2 and 1.3, memory and
-- fd transports.
local wolfssl = require "wolfssl"
local trace = require "wolfssl.trace"
local certs = require "spec.helpers.certs"
local contexts = require "spec.helpers.ctx"
local peer = require "spec.helpers.peer"
local Pair = require("wolfssl.pair").Pair

local function client_ctx(version, extra) return contexts.client(contexts.merge({ max_version = version }, extra)) end

local function server_ctx(kind, extra) return contexts.server(extra, kind) end

local function pair_of(cctx, sctx, server_name)
  local c = cctx:connection({ server_name = server_name or "localhost" })
  return setmetatable({ client = c, server = sctx:connection() }, Pair)
end

for _, version in ipairs({ "tls1.2", "tls1.3" }) do
  local V = version == "tls1.3" and "TLSv1.3" or "TLSv1.2"

  describe("on_client_hello (" .. V .. ", memory transport)", function()
    it("gets the decoded ClientHello before wolfSSL has answered anything", function()
      local seen, order = nil, {}
      local sctx = server_ctx("ec", {
        on_client_hello = function(conn, hello)
          seen = hello
          order[#order + 1] = "hook"
          assert.equal(0, (conn:pending())) -- nothing written yet
        end,
        on_message = function(_, m) order[#order + 1] = m.direction .. " " .. m.type end,
      })
      local p = pair_of(client_ctx(version, { alpn = { "h2", "http/1.1" } }), sctx)
      assert.is_true(p:handshake())
      assert.equal("client_hello", seen.type)
      assert.equal("localhost", seen.server_name)
      assert.same({ "h2", "http/1.1" }, seen.alpn)
      assert.equal(version == "tls1.3" and "TLSv1.3" or "TLSv1.2", seen.versions[1])
      assert.equal(32, #seen.random)
      assert.same({ "received client_hello", "hook", "sent server_hello" }, { order[1], order[2], order[3] })
      assert.equal(V, p.server:info().version)
    end)

    it("pauses the handshake with wolfssl.PAUSE and resumes it without losing a byte", function()
      local calls, found = 0, nil
      local sctx = server_ctx("ec", {
        on_client_hello = function(conn, hello)
          calls = calls + 1
          -- the first call starts the asynchronous lookup; the call on resume decides
          if not found then return wolfssl.PAUSE end
          assert(conn:use_certificate(certs.path(found .. ".pem"), certs.path(found .. ".key")))
          assert.equal("localhost", hello.server_name)
        end,
      })
      local p = pair_of(client_ctx(version), sctx)
      assert.equal("wantread", select(3, p.client:handshake()))
      p:flush()
      assert.same({ nil, "paused", "paused" }, { p.server:handshake() })
      assert.equal("", p.server:take()) -- nothing went out while paused
      -- still paused while the lookup is unfinished: asked again, nothing lost
      assert.same({ nil, "paused", "paused" }, { p.server:handshake() })
      assert.equal(2, calls)
      found = "rsa" -- the script's asynchronous work finished
      assert.is_true(p:handshake())
      assert.equal(3, calls) -- asked again on each resume, as OpenSSL re-calls a retrying hook
      assert.equal(certs.read("rsa.pem"), p.client:peer_certificate():pem())
      assert.equal("still here", p:transfer("client", "still here"))
    end)

    it("reports the paused ClientHello to the trace once", function()
      local hellos, resumed = 0, false
      local sctx = server_ctx("ec", {
        on_message = function(_, m) if m.type == "client_hello" then hellos = hellos + 1 end end,
        on_client_hello = function() if not resumed then return wolfssl.PAUSE end end,
      })
      local p = pair_of(client_ctx(version), sctx)
      p.client:handshake()
      p:flush()
      assert.equal("paused", select(3, p.server:handshake()))
      resumed = true
      assert.is_true(p:handshake())
      assert.equal(1, hellos)
    end)

    it("rejects with the alert the hook names, which the client receives", function()
      local sctx = server_ctx("ec", {
        on_client_hello = function(_, hello)
          if hello.server_name ~= "known.test" then return false, "unrecognized_name" end
        end,
      })
      local p = pair_of(client_ctx(version), sctx)
      local ok, err, code, side = p:handshake()
      assert.is_nil(ok)
      assert.equal("server", side)
      assert.equal("handshake failed: on_client_hello rejected the ClientHello (sent alert unrecognized_name)", err)
      assert.equal("handshake_failed", code)
      assert.same({ "handshake failed: received alert unrecognized_name", "alert" }, p.errors.client)
      -- latched, like every fatal error
      assert.same({ nil, err, code }, { p.server:handshake() })
    end)

    it("rejects with handshake_failure when the hook says only false", function()
      local p = pair_of(client_ctx(version), server_ctx("ec", { on_client_hello = function() return false end }))
      assert.is_nil(p:handshake())
      assert.same({ "handshake failed: received alert handshake_failure", "alert" }, p.errors.client)
    end)

    it("switches to another context chosen by the server name", function()
      local rsa = server_ctx("rsa")
      local sctx = server_ctx("ec", {
        on_client_hello = function(conn, hello)
          if hello.server_name == "rsa.test" then conn:use_context(rsa) end
        end,
      })
      local cctx = client_ctx(version, { check_hostname = false })
      local p = pair_of(cctx, sctx, "rsa.test")
      assert.is_true(p:handshake())
      assert.equal(certs.read("rsa.pem"), p.client:peer_certificate():pem())
      local p2 = pair_of(cctx, sctx, "ec.test")
      assert.is_true(p2:handshake())
      assert.equal(certs.read("ec.pem"), p2.client:peer_certificate():pem())
    end)

    it("chooses the ALPN protocol from the client's offer", function()
      local sctx = server_ctx("ec", {
        on_client_hello = function(conn, hello) conn:set_alpn(hello.alpn[#hello.alpn]) end,
      })
      local p = pair_of(client_ctx(version, { alpn = { "h2", "http/1.1" } }), sctx)
      assert.is_true(p:handshake())
      assert.equal("http/1.1", p.client:info().alpn)
      assert.equal("http/1.1", p.server:info().alpn)
    end)

    it("fails with code 'callback' and an internal_error alert when the hook raises", function()
      local p = pair_of(client_ctx(version), server_ctx("ec", { on_client_hello = function() error("lookup failed") end }))
      local ok, err, code = p:handshake()
      assert.is_nil(ok)
      assert.equal("callback", code)
      assert.matches("^callback error: .*lookup failed", err)
      assert.same({ "handshake failed: received alert internal_error", "alert" }, p.errors.client)
    end)

    it("treats a return value that is not an answer as a callback error", function()
      local p = pair_of(client_ctx(version), server_ctx("ec", { on_client_hello = function() return "yes" end }))
      local ok, err, code = p:handshake()
      assert.is_nil(ok)
      assert.equal("callback", code)
      assert.matches("on_client_hello must return nil, true, false or wolfssl.PAUSE (got string)", err, 1, true)
      assert.same({ "handshake failed: received alert internal_error", "alert" }, p.errors.client)
    end)

    it("treats an unknown alert name as a callback error", function()
      local p = pair_of(client_ctx(version), server_ctx("ec", { on_client_hello = function() return false, "no_such_alert" end }))
      local ok, err, code = p:handshake()
      assert.is_nil(ok)
      assert.equal("callback", code)
      assert.matches("unknown alert 'no_such_alert'", err, 1, true)
    end)
  end)
end

describe("on_client_hello and the bytes it waits for", function()
  it("waits for a ClientHello split across records and fed a byte at a time", function()
    local calls, name = 0, nil
    local sctx = server_ctx("ec", { on_client_hello = function(_, hello) calls = calls + 1; name = hello.server_name end })
    local c = client_ctx("tls1.3"):connection({ server_name = "localhost" })
    local s = sctx:connection()
    c:handshake()
    local msgs = trace.records(c:take())
    assert.equal("client_hello", msgs[1].type)
    local hs = msgs[1].bytes
    -- the same ClientHello in three records
    local split = trace.record("handshake", hs:sub(1, 10)) .. trace.record("handshake", hs:sub(11, 100))
      .. trace.record("handshake", hs:sub(101))
    for i = 1, #split do
      s:feed(split:sub(i, i))
      local ok, err, code = s:handshake()
      assert.is_nil(ok)
      assert.equal("wantread", code, err)
      if i < #split then assert.equal(0, calls) end
    end
    assert.equal(1, calls)
    assert.equal("localhost", name)
    local p = setmetatable({ client = c, server = s }, Pair)
    assert.is_true(p:handshake())
  end)

  it("leaves bytes that are not a ClientHello to wolfSSL, without calling the hook", function()
    local calls = 0
    local s = server_ctx("ec", { on_client_hello = function() calls = calls + 1 end }):connection()
    s:feed("\22\3\1\0\4\2\0\0\0") -- a handshake record holding a ServerHello header
    local ok, _, code = s:handshake()
    assert.is_nil(ok)
    assert.is_truthy(code ~= "wantread" and code ~= "paused", code)
    assert.equal(0, calls)
    local s2 = server_ctx("ec", { on_client_hello = function() calls = calls + 1 end }):connection()
    s2:feed("GET / HTTP/1.0\r\n\r\n")
    assert.is_nil(s2:handshake())
    assert.equal(0, calls)
  end)

  it("reports the peer closing before the ClientHello is complete", function()
    local s = server_ctx("ec", { on_client_hello = function() error("not reached") end }):connection()
    s:feed("\22\3\1\1\0\1\0")
    assert.equal("wantread", select(3, s:handshake()))
    s:feed_eof()
    assert.same({ nil, "handshake failed: connection closed by peer", "closed" }, { s:handshake() })
  end)
end)

describe("on_client_hello on the fd transport (against openssl s_client)", function()
  local VERSIONS = { ["tls1.2"] = "-tls1_2", ["tls1.3"] = "-tls1_3" }
  local listener, port, client, sock

  local function accept(servername, flag)
    listener, port = peer.listen()
    client = peer.s_client(port, { args = ("-servername %s %s -ign_eof"):format(servername, flag) })
    listener:settimeout(5)
    sock = assert(listener:accept())
    listener:close()
    return sock
  end

  after_each(function()
    if sock then sock:close() end
    peer.stop(client)
    sock, client = nil, nil
  end)

  for version, flag in pairs(VERSIONS) do
    it(("pauses, switches the certificate and resumes (%s)"):format(version), function()
      local calls, name, decided = 0, nil, false
      local ctx = server_ctx("ec", {
        on_client_hello = function(_, hello)
          calls = calls + 1
          name = hello.server_name
          if not decided then return wolfssl.PAUSE end
        end,
      })
      accept("switch.test", flag)
      local conn = assert(ctx:connection({ fd = sock:getfd() }))
      conn:settimeout(5)
      assert.same({ nil, "paused", "paused" }, { conn:handshake() })
      assert.equal("switch.test", name)
      -- a script may also act on the connection itself while paused; the hook, asked
      -- again on resume, lets it go on
      assert.is_true(conn:use_certificate(certs.path("rsa.pem"), certs.path("rsa.key")))
      decided = true
      assert.is_true(conn:handshake())
      assert.equal(2, calls)
      assert.equal(version == "tls1.3" and "TLSv1.3" or "TLSv1.2", conn:info().version)
      conn:write("bye\n")
      conn:shutdown()
      conn:close()
      sock:close()
      assert.is_true(peer.wait(client, 5))
      local out = peer.output(client)
      assert.matches("Server public key is 2048 bit", out, 1, true) -- the RSA certificate
      assert.matches("bye", out, 1, true)
    end)

    it(("rejects with an alert the client reports (%s)"):format(version), function()
      local ctx = server_ctx("ec", { on_client_hello = function() return false, "unrecognized_name" end })
      accept("nobody.test", flag)
      local conn = assert(ctx:connection({ fd = sock:getfd() }))
      conn:settimeout(5)
      local ok, err, code = conn:handshake()
      assert.is_nil(ok)
      assert.equal("handshake_failed", code)
      assert.matches("sent alert unrecognized_name", err, 1, true)
      conn:close()
      sock:close()
      assert.is_true(peer.wait(client, 5))
      assert.matches("alert number 112", peer.output(client), 1, true)
    end)
  end

  it("returns wantread on a non-blocking fd until the ClientHello is there", function()
    local got
    local ctx = server_ctx("ec", { on_client_hello = function(_, hello) got = hello.server_name end })
    local socket = require "socket"
    listener, port = peer.listen()
    local raw = assert(socket.connect("127.0.0.1", port))
    sock = assert(listener:accept())
    listener:close()
    finally(function() raw:close() end)
    local conn = assert(ctx:connection({ fd = sock:getfd() }))
    conn:settimeout(0)
    assert.equal("wantread", select(3, conn:handshake()))
    local c = client_ctx("tls1.3"):connection({ server_name = "fd.test" })
    c:handshake()
    local hello = c:take()
    raw:send(hello:sub(1, 50))
    socket.sleep(0.05)
    assert.equal("wantread", select(3, conn:handshake()))
    assert.is_nil(got)
    raw:send(hello:sub(51))
    socket.sleep(0.05)
    assert.equal("wantread", select(3, conn:handshake())) -- now waiting for the client's Finished
    assert.equal("fd.test", got)
  end)
end)
