-- wolfssl.socket: a LuaSocket script gets TLS the LuaSec way (wrap, dohandshake,
-- receive patterns, select() loops), on either transport, verified.
local socket = require "socket"
local ssl = require "wolfssl.socket"
local certs = require "spec.helpers.certs"
local peer = require "spec.helpers.peer"
local tmp = require "spec.helpers.tmp"

local LUA = os.getenv("LW_LUA") or "lua5.4"
local TRANSPORTS = { "fd", "memory" }

local function client_params(extra)
  local p = { mode = "client", protocol = "any", verify = "peer", cafile = certs.path("ca.pem") }
  for k, v in pairs(extra or {}) do p[k] = v end
  return p
end

local function server_params(kind, extra)
  local p = { mode = "server", protocol = "any", certificate = certs.path(kind .. ".pem"),
    key = certs.path(kind .. ".key") }
  for k, v in pairs(extra or {}) do p[k] = v end
  return p
end

-- A connected pair of plain TCP sockets on loopback.
local function tcp_pair()
  local listener, port = peer.listen()
  listener:settimeout(5)
  local c = assert(socket.connect("127.0.0.1", port))
  local s = assert(listener:accept())
  listener:close()
  return c, s
end

-- Drive two non-blocking wrappers until both handshakes are done (or one fails).
local function handshake_both(a, b, timeout)
  a:settimeout(0)
  b:settimeout(0)
  local done, errs, stop = {}, {}, nil
  local deadline = socket.gettime() + (timeout or 5)
  while not (done[a] and done[b]) do
    for _, x in ipairs({ a, b }) do
      if not done[x] and not errs[x] then
        local ok, err = x:dohandshake()
        if ok then done[x] = true
        elseif err ~= "wantread" and err ~= "wantwrite" then errs[x] = err end
      end
    end
    if (errs[a] or done[a]) and (errs[b] or done[b]) then break end
    -- a side that failed without an alert leaves the other waiting: give it a moment
    if (errs[a] or errs[b]) and not stop then stop = socket.gettime() + 0.5 end
    if stop and socket.gettime() > stop then break end
    assert(socket.gettime() < deadline, "handshake did not finish")
    socket.select({ a, b }, nil, 0.05)
  end
  return errs[a] == nil and errs[b] == nil, errs[a], errs[b]
end

-- A Lua child process serving one TLS connection with wolfssl.socket; `body` runs with
-- `conn` (handshake done). Returns the process and its port.
local function lua_server(kind, body, params)
  local script = tmp.write(("server%d.lua"):format(math.random(1e9)), ([[
    local socket = require "socket"
    local ssl = require "wolfssl.socket"
    local server = assert(socket.bind("127.0.0.1", 0))
    local _, port = server:getsockname()
    print("listening " .. port)
    io.stdout:flush()
    local tcp = assert(server:accept())
    local conn = assert(ssl.wrap(tcp, { mode = "server", protocol = "any",
      certificate = %q, key = %q %s }))
    assert(conn:dohandshake())
    %s
    conn:close()
  ]]):format(certs.path(kind .. ".pem"), certs.path(kind .. ".key"), params or "", body))
  local proc = peer.spawn(LUA .. " " .. tmp.quote(script), { lua = true })
  return proc, peer.wait_output(proc, "listening (%d+)")
end

describe("wolfssl.socket as a client", function()
  local server
  before_each(function()
    server = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"), args = "-rev" })
  end)
  after_each(function() peer.stop(server) end)

  for _, transport in ipairs(TRANSPORTS) do
    it(("wraps a connected socket, verifies the server and exchanges lines (%s transport)"):format(transport), function()
      local tcp = assert(socket.connect("127.0.0.1", server.port))
      local conn = assert(ssl.wrap(tcp, client_params({ transport = transport })))
      finally(function() conn:close() end)
      assert.is_true(conn:dohandshake())
      assert.equal(12, conn:send("hello world\n"))
      assert.equal("dlrow olleh", conn:receive("*l"))
      assert.is_true(conn:getpeerverification())
      assert.equal("CN=localhost", tostring(conn:getpeercertificate():subject()))
      assert.equal(2, #conn:getpeerchain() + 1) -- s_server sends the leaf only
      local info = conn:info()
      assert.equal("TLSv1.3", info.protocol)
      assert.equal("TLS_AES_128_GCM_SHA256", info.cipher)
      assert.equal("AESGCM(128)", info.encryption)
      assert.equal("AEAD", info.mac)
      assert.equal(128, info.bits)
      assert.equal("TLSv1.3", conn:info("protocol"))
      assert.is_number(conn:getfd())
      assert.equal(transport, tostring(conn):match("lua%-wolfssl, (%a+)"))
    end)
  end

  it("names TLS 1.2 suites with OpenSSL's words, as LuaSec's info() does", function()
    local tcp = assert(socket.connect("127.0.0.1", server.port))
    local conn = assert(ssl.wrap(tcp, client_params({ protocol = "tlsv1_2" })))
    finally(function() conn:close() end)
    assert.is_true(conn:dohandshake())
    local info = conn:info()
    assert.same({ "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDH", "ECDSA", "AESGCM(128)", "AEAD", false },
      { info.protocol, info.cipher, info.key, info.authentication, info.encryption, info.mac, info.export })
  end)

  it("sends the slice i..j of its data and returns the index of the last byte", function()
    local tcp = assert(socket.connect("127.0.0.1", server.port))
    local conn = assert(ssl.wrap(tcp, client_params()))
    finally(function() conn:close() end)
    assert.is_true(conn:dohandshake())
    assert.equal(7, conn:send("xhello\nzz", 2, 7))
    assert.equal("olleh", conn:receive())
    assert.equal(0, conn:send(""))
  end)

  it("fails the handshake with the reason when the server is not trusted", function()
    local tcp = assert(socket.connect("127.0.0.1", server.port))
    local conn = assert(ssl.wrap(tcp, client_params({ cafile = certs.path("other-ca.pem") })))
    finally(function() conn:close() end)
    local ok, err, code = conn:dohandshake()
    assert.is_false(ok)
    assert.equal("certificate verify failed: unable to get local issuer certificate (depth 0, CN=localhost)"
      .. " (sent alert unknown_ca)", err)
    assert.equal("verify_failed", code)
    assert.is_nil(conn:getpeercertificate())
    assert.same({ nil, "closed" }, { conn:getpeercertificate() })
  end)

  it("does not verify when the parameters say verify = 'none' (as LuaSec)", function()
    local tcp = assert(socket.connect("127.0.0.1", server.port))
    local conn = assert(ssl.wrap(tcp, { mode = "client", protocol = "any", verify = "none" }))
    finally(function() conn:close() end)
    assert.is_true(conn:dohandshake())
    local ok, why = conn:getpeerverification()
    assert.is_false(ok)
    assert.matches("not verified", why)
  end)

  it("keeps weak suites out when given an OpenSSL cipher string of keywords", function()
    local tcp = assert(socket.connect("127.0.0.1", server.port))
    local conn = assert(ssl.wrap(tcp, client_params({ protocol = "tlsv1_2", ciphers = "ALL:!ADH:@STRENGTH" })))
    finally(function() conn:close() end)
    assert.is_true(conn:dohandshake())
    assert.equal("AEAD", conn:info("mac"))
  end)

  it("after close(), every call says 'closed'", function()
    local tcp = assert(socket.connect("127.0.0.1", server.port))
    local conn = assert(ssl.wrap(tcp, client_params()))
    assert.is_true(conn:dohandshake())
    conn:close()
    conn:close()
    assert.same({ false, "closed", "closed" }, { conn:dohandshake() })
    assert.same({ nil, "closed", "" }, { conn:receive() })
    assert.same({ nil, "closed", 0 }, { conn:send("x") })
    assert.is_false(conn:dirty())
    assert.equal("nothing", conn:want())
  end)
end)

describe("wolfssl.socket over lua-wolfssl's verification API", function()
  local wolfssl = require "wolfssl"

  it("verifies without enforcing under verifyext = 'lsec_continue', reporting per depth", function()
    local c, s = tcp_pair()
    local a = assert(ssl.wrap(c, client_params({ cafile = certs.path("other-ca.pem"), verifyext = "lsec_continue" })))
    local b = assert(ssl.wrap(s, server_params("ec")))
    finally(function() a:close(); b:close() end)
    assert.is_true(handshake_both(a, b))
    local ok, errors = a:getpeerverification()
    assert.is_false(ok)
    assert.is_table(errors[0])
    assert.matches("issuer", errors[0][1])
  end)

  it("names why an accepted peer is not verified, for the binding's own errors too", function()
    local pki = require "wolfssl.pki"
    local root = pki.ca({ subject = "CN=Old CA" })
    local cert, key = root:issue({ subject = "CN=localhost", dns = { "localhost" }, hash = "sha1" })
    local cctx = assert(wolfssl.context({ role = "client", ca = root:pem(), check_hostname = false,
      on_verify = function() return true end })) -- accept over the error: then not "verified"
    local sctx = assert(wolfssl.context({ role = "server", certificate = cert, key = key:pem() }))
    local c, s = tcp_pair()
    local a, b = assert(ssl.wrap(c, cctx)), assert(ssl.wrap(s, sctx))
    finally(function() a:close(); b:close() end)
    assert.is_true(handshake_both(a, b))
    assert.equal("weak_signature_digest", a:info("verify_error"))
    assert.same({ false, "signature digest algorithm too weak" }, { a:getpeerverification() })
  end)

  it("gives Certificate LuaSec's method names (digest, notbefore, notafter, validat)", function()
    local cert = assert(ssl.loadcertificate(certs.read("ec.pem")))
    local want = tmp.run("openssl x509 -noout -fingerprint -sha256 -in " .. tmp.quote(certs.path("ec.pem")))
    assert.equal(want:match("=([%x:]+)"):gsub(":", ""):lower(), cert:digest("sha256"))
    assert.matches("^%a%a%a %d%d %d%d:%d%d:%d%d %d%d%d%d GMT$", cert:notafter())
    assert.is_true(cert:validat(os.time()))
    assert.is_false(cert:validat(os.time() + 365 * 86400))
  end)
end)

describe("wolfssl.socket receive patterns", function()
  for _, transport in ipairs(TRANSPORTS) do
    it(("read lines, counts and the rest by LuaSocket's rules (%s transport)"):format(transport), function()
      local proc, port = lua_server("ec", [[conn:send("line1\r\nli\rne2\nabcdef")]])
      finally(function() peer.stop(proc) end)
      local tcp = assert(socket.connect("127.0.0.1", port))
      local conn = assert(ssl.wrap(tcp, client_params({ transport = transport })))
      finally(function() conn:close() end)
      conn:sni("localhost")
      conn:settimeout(5)
      assert.is_true(conn:dohandshake())
      assert.equal("line1", conn:receive())
      assert.equal("pre:line2", conn:receive("*l", "pre:")) -- every CR is dropped
      assert.equal("abc", conn:receive(3))
      assert.equal("def", conn:receive("*a"))                -- up to the close_notify
      assert.same({ nil, "closed", "" }, { conn:receive() })
      assert.same({ nil, "closed", "x" }, { conn:receive("a", "x") }) -- nothing left: not even "*a" succeeds
    end)

    it(("carries 1 MiB intact, by count and to the end (%s transport)"):format(transport), function()
      local proc, port = lua_server("ec", [[
        local blob = {}
        for i = 1, 4096 do blob[i] = string.char(i % 251):rep(256) end
        blob = table.concat(blob)
        conn:settimeout(10)
        assert(conn:send(blob) == #blob)
        assert(conn:send(blob) == #blob)
      ]])
      finally(function() peer.stop(proc) end)
      local tcp = assert(socket.connect("127.0.0.1", port))
      local conn = assert(ssl.wrap(tcp, client_params({ transport = transport })))
      finally(function() conn:close() end)
      conn:settimeout(10)
      assert.is_true(conn:dohandshake())
      local blob = {}
      for i = 1, 4096 do blob[i] = string.char(i % 251):rep(256) end
      blob = table.concat(blob)
      local first = conn:receive(#blob)
      assert.equal(#blob, #first)
      assert.is_true(first == blob)
      local rest = conn:receive("*a")
      assert.equal(#blob, #rest)
      assert.is_true(rest == blob)
    end)

    it(("returns what arrived with 'wantread' when the timeout runs out (%s transport)"):format(transport), function()
      local proc, port = lua_server("ec", [[conn:send("partial"); socket.sleep(1.5)]])
      finally(function() peer.stop(proc) end)
      local tcp = assert(socket.connect("127.0.0.1", port))
      local conn = assert(ssl.wrap(tcp, client_params({ transport = transport })))
      finally(function() conn:close() end)
      conn:settimeout(5)
      assert.is_true(conn:dohandshake())
      conn:settimeout(0.3)
      local t0 = socket.gettime()
      local data, err, partial = conn:receive("*l")
      assert.is_nil(data)
      assert.equal("wantread", err)
      assert.equal("partial", partial)
      assert.is_true(socket.gettime() - t0 >= 0.25)
      assert.equal("read", conn:want())
      -- the partial result was handed out: the next call starts afresh
      assert.same({ nil, "wantread", "" }, { conn:receive(4) })
    end)
  end

  it("raises on a receive pattern LuaSocket does not know", function()
    local c, s = tcp_pair()
    local a = assert(ssl.wrap(c, client_params()))
    finally(function() a:close(); s:close() end)
    a.state = "connected"
    assert.has_error(function() a:receive("*x") end, "bad argument #1 to 'receive' (invalid receive pattern)")
  end)
end)

describe("wolfssl.socket as a server", function()
  it("serves openssl s_client and asks it for a client certificate (fail_if_no_peer_cert)", function()
    local listener, port = peer.listen()
    local client = peer.s_client(port, {
      input = "hello from s_client\n",
      args = ("-CAfile %s -verify_return_error -servername localhost -ign_eof -cert %s -key %s")
        :format(certs.path("ca.pem"), certs.path("client.pem"), certs.path("client.key")),
    })
    finally(function() peer.stop(client) end)
    listener:settimeout(5)
    local tcp = assert(listener:accept())
    listener:close()
    local conn = assert(ssl.wrap(tcp, server_params("rsa", {
      verify = { "peer", "fail_if_no_peer_cert" }, cafile = certs.path("ca.pem") })))
    finally(function() conn:close() end)
    conn:settimeout(5)
    assert.is_true(conn:dohandshake())
    assert.equal("hello from s_client", conn:receive())
    assert.equal("CN=test client", tostring(conn:getpeercertificate():subject()))
    assert.is_true(conn:getpeerverification())
    assert.equal("localhost", conn:getsniname())
    conn:send("hello from lua-wolfssl\n")
    conn:close()
    assert.is_true(peer.wait(client, 5), "s_client did not exit")
    assert.matches("hello from lua-wolfssl", peer.output(client), 1, true)
    assert.matches("Verify return code: 0 (ok)", peer.output(client), 1, true)
  end)

  it("chooses the context by the client's server name (sni map) and refuses others when strict", function()
    local default = assert(ssl.newcontext(server_params("ec")))
    local rsa = assert(ssl.newcontext(server_params("rsa")))
    for _, case in ipairs({ { "rsa.test", "rsa" }, { "other.test", "ec" }, { "other.test", "strict" } }) do
      local c, s = tcp_pair()
      local a = assert(ssl.wrap(c, client_params({ verify = "none" })))
      local b = assert(ssl.wrap(s, default))
      a:sni(case[1])
      b:sni({ ["rsa.test"] = rsa }, case[2] == "strict")
      local ok, cerr, serr = handshake_both(a, b)
      if case[2] == "strict" then
        assert.is_false(ok)
        assert.equal("handshake failed: received alert unrecognized_name", cerr)
        assert.matches("no certificate for server name 'other.test'", serr, 1, true)
      else
        assert.is_true(ok, tostring(cerr) .. " / " .. tostring(serr))
        assert.equal(case[1], b:getsniname())
        assert.equal(case[1], a:getsniname())
        assert.equal(certs.read(case[2] .. ".pem"), a:getpeercertificate():pem())
      end
      a:close()
      b:close()
    end
  end)

  it("picks the ALPN protocol by its own preference, or by a function", function()
    for _, case in ipairs({
      { { "http/1.1", "h2" }, "http/1.1" },
      { function(offered) return offered[#offered] end, "http/1.1" },
      { { "spdy/3" }, nil },
    }) do
      local c, s = tcp_pair()
      local a = assert(ssl.wrap(c, client_params({ verify = "none", alpn = { "h2", "http/1.1" } })))
      local b = assert(ssl.wrap(s, server_params("ec", { alpn = case[1] })))
      assert.is_true(handshake_both(a, b))
      assert.equal(case[2], a:getalpn())
      assert.equal(case[2], b:getalpn())
      a:close()
      b:close()
    end
  end)
end)

describe("wolfssl.socket in a select() loop", function()
  it("returns false, 'wantread' under settimeout(0) and finishes when select() says so", function()
    local c, s = tcp_pair()
    local a = assert(ssl.wrap(c, client_params()))
    local b = assert(ssl.wrap(s, server_params("ec")))
    finally(function() a:close(); b:close() end)
    a:sni("localhost")
    a:settimeout(0)
    local ok, err = a:dohandshake()
    assert.is_false(ok)
    assert.equal("wantread", err)
    assert.equal("read", a:want())
    assert.is_true(handshake_both(a, b))
    assert.is_true(a:getpeerverification())
  end)

  it("tells select() about decrypted data it already holds (dirty)", function()
    local c, s = tcp_pair()
    local a = assert(ssl.wrap(c, client_params({ verify = "none" })))
    local b = assert(ssl.wrap(s, server_params("ec")))
    finally(function() a:close(); b:close() end)
    assert.is_true(handshake_both(a, b))
    b:settimeout(5)
    assert.equal(12, b:send("one\ntwo\nsix\n"))
    a:settimeout(5)
    assert.equal("one", a:receive())
    assert.is_true(a:dirty())
    local r = socket.select({ a }, nil, 0)
    assert.equal(a, r[1])
    assert.equal("two", a:receive())
    assert.equal("six", a:receive())
    assert.is_false(a:dirty())
  end)

  it("handshakes 50 connections concurrently and echoes on each", function()
    local listener, port = peer.listen()
    listener:settimeout(5)
    local sctx = assert(ssl.newcontext(server_params("ec")))
    local cctx = assert(ssl.newcontext(client_params({ checkhost = true })))
    local clients, servers, all = {}, {}, {}
    finally(function() for _, x in ipairs(all) do x:close() end; listener:close() end)
    for i = 1, 50 do
      local tcp = assert(socket.connect("127.0.0.1", port))
      local c = assert(ssl.wrap(tcp, cctx, { transport = i % 2 == 0 and "memory" or "fd" }))
      c:sni("localhost")
      c:settimeout(0)
      local s = assert(ssl.wrap(assert(listener:accept()), sctx, { transport = i % 3 == 0 and "memory" or "fd" }))
      s:settimeout(0)
      clients[i], servers[i] = c, s
      all[#all + 1] = c
      all[#all + 1] = s
    end
    -- one loop: handshake whoever is ready, wait in select() for the rest
    local pending, rounds = {}, 0
    for _, x in ipairs(all) do pending[x] = "read" end
    local deadline = socket.gettime() + 30
    while next(pending) do
      rounds = rounds + 1
      local readers, writers = {}, {}
      for x, want in pairs(pending) do
        if want == "read" then readers[#readers + 1] = x else writers[#writers + 1] = x end
      end
      local r, w = socket.select(readers, writers, 1)
      local ready = {}
      for _, x in ipairs(r) do ready[#ready + 1] = x end
      for _, x in ipairs(w) do ready[#ready + 1] = x end
      if rounds == 1 then for _, c in ipairs(clients) do ready[#ready + 1] = c end end -- ClientHellos
      for _, x in ipairs(ready) do
        if pending[x] then
          local ok, err = x:dohandshake()
          if ok then pending[x] = nil
          else
            assert.is_truthy(err == "wantread" or err == "wantwrite", err)
            pending[x] = err == "wantread" and "read" or "write"
          end
        end
      end
      assert.is_true(socket.gettime() < deadline, "the loop did not finish")
    end
    assert.is_true(rounds > 2) -- it really waited in select()
    for i, c in ipairs(clients) do
      assert.is_true(c:getpeerverification())
      c:settimeout(5)
      servers[i]:settimeout(5)
      assert.equal(#tostring(i) + 1, c:send(i .. "\n"))
      local line = servers[i]:receive()
      assert.equal(tostring(i), line)
      servers[i]:send("echo " .. line .. "\n")
      assert.equal("echo " .. i, c:receive())
    end
  end)
end)

describe("wolfssl.socket.connect", function()
  it("verifies the server and checks the host name by default", function()
    local good = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"), args = "-rev" })
    finally(function() peer.stop(good) end)
    local conn = assert(ssl.connect("localhost", good.port, { cafile = certs.path("ca.pem"), timeout = 5 }))
    assert.equal("localhost", conn:getsniname())
    assert.equal(4, conn:send("abc\n"))
    assert.equal("cba", conn:receive())
    conn:close()
    -- an IP literal is checked against the certificate's IP addresses
    conn = assert(ssl.connect("127.0.0.1", good.port, { cafile = certs.path("ca.pem"), timeout = 5 }))
    conn:close()
  end)

  it("refuses a certificate for another name, saying so", function()
    local wrong = peer.s_server({ cert = certs.path("wrong-host.pem"), key = certs.path("wrong-host.key"), args = "-rev" })
    finally(function() peer.stop(wrong) end)
    local conn, err, code = ssl.connect("localhost", wrong.port, { cafile = certs.path("ca.pem"), timeout = 5 })
    assert.is_nil(conn)
    assert.equal("verify_failed", code)
    assert.matches("^certificate verify failed: hostname mismatch %(depth 0, CN=wrong.test%)", err)
  end)

  it("reports a refused TCP connection as LuaSocket does", function()
    local conn, err = ssl.connect("127.0.0.1", peer.free_port(), { cafile = certs.path("ca.pem"), timeout = 2 })
    assert.is_nil(conn)
    assert.equal("connection refused", err)
  end)
end)

describe("wolfssl.socket.newcontext", function()
  it("returns nil and LuaSec's message for bad parameters", function()
    assert.same({ nil, "invalid mode" }, { ssl.newcontext({ protocol = "any" }) })
    assert.same({ nil, "invalid protocol (tlsv1)" }, { ssl.newcontext({ mode = "client", protocol = "tlsv1" }) })
    assert.same({ nil, "invalid option (bogus)" }, { ssl.newcontext({ mode = "client", options = { "all", "bogus" } }) })
    assert.same({ nil, "invalid verify option (sometimes)" }, { ssl.newcontext({ mode = "client", verify = "sometimes" }) })
    assert.same({ nil, "invalid password type" }, { ssl.newcontext(server_params("ec", { password = 42 })) })
    assert.same({ nil, "invalid ALPN name (empty string)" }, { ssl.newcontext({ mode = "client", alpn = { "" } }) })
    assert.same({ nil, "invalid curve (P-999)" }, { ssl.newcontext({ mode = "client", curve = "P-999" }) })
    local ctx, err = ssl.newcontext(server_params("ec", { key = certs.path("rsa.key") }))
    assert.is_nil(ctx)
    assert.equal("private key does not match the certificate", err)
    ctx, err = ssl.newcontext(server_params("ec", { certificate = "/nonexistent.pem" }))
    assert.is_nil(ctx)
    assert.matches("^cannot open certificate: /nonexistent.pem", err)
  end)

  it("maps no_tlsv1_3 / no_tlsv1_2 and the protocol onto the versions offered", function()
    local c, s = tcp_pair()
    local a = assert(ssl.wrap(c, client_params({ verify = "none", options = { "all", "no_tlsv1_3" } })))
    local b = assert(ssl.wrap(s, server_params("ec", { protocol = "any" })))
    assert.is_true(handshake_both(a, b))
    assert.equal("TLSv1.2", a:info("protocol"))
    a:close(); b:close()
    c, s = tcp_pair()
    a = assert(ssl.wrap(c, client_params({ verify = "none", protocol = "tlsv1_3" })))
    b = assert(ssl.wrap(s, server_params("ec", { protocol = "tlsv1_2" })))
    local ok, cerr = handshake_both(a, b)
    assert.is_false(ok)
    assert.is_string(cerr)
    a:close(); b:close()
  end)

  it("raises on a wrap() of something that is not a socket", function()
    assert.has_error(function() ssl.wrap("x", {}) end)
    local c, s = tcp_pair()
    finally(function() c:close(); s:close() end)
    assert.has_error(function() ssl.wrap(c, 42) end)
    assert.has_error(function() ssl.wrap(c, client_params(), { transport = "pigeon" }) end)
  end)
end)
