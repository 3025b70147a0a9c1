-- A resumed handshake verifies no certificate: the connection reports the verification
-- of the handshake that made its session (as OpenSSL's SSL_get_verify_result does), on
-- the client for the same server_name only, on a server from what its ticket or cache
-- records. In memory for TLS 1.2 session ids and tickets and TLS 1.3 tickets, and
-- against openssl s_server / s_client.
local socket = require "socket"
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"
local peer = require "spec.helpers.peer"
local tmp = require "spec.helpers.tmp"

local q = tmp.quote

after_each(function() peer.stop_all() end)

local KINDS = {
  { name = "TLS 1.2 session id", version = "tls1.2", tickets = false, s_server = "-tls1_2 -no_ticket",
    s_client = "-tls1_2 -no_ticket" },
  { name = "TLS 1.2 ticket", version = "tls1.2", tickets = true, s_server = "-tls1_2", s_client = "-tls1_2" },
  { name = "TLS 1.3 ticket", version = "tls1.3", tickets = true, s_server = "-tls1_3", s_client = "-tls1_3" },
}

local function merge(a, b)
  local o = {}
  for k, v in pairs(a) do o[k] = v end
  for k, v in pairs(b or {}) do o[k] = v end
  return o
end

local function server_ctx(kind, extra)
  return assert(wolfssl.context(merge({ role = "server", certificate = certs.path("ec.pem"), key = certs.path("ec.key"),
    max_version = kind.version }, extra)))
end

local function client_ctx(kind, extra)
  return assert(wolfssl.context(merge({ role = "client", ca = certs.path("ca.pem"), max_version = kind.version,
    tickets = kind.tickets }, extra)))
end

local function with_client_cert(kind, extra)
  return client_ctx(kind, merge({ certificate = certs.path("client.pem"), key = certs.path("client.key") }, extra))
end

local function ders(chain)
  if chain == nil then return nil end
  local out = {}
  for i, c in ipairs(chain) do out[i] = c:der() end
  return out
end

-- wolfSSL's own session bytes inside an export (what lua-wolfssl exported before its
-- format carried the verification): the last field, after its 4-byte length
local function bare_wolfssl_bytes(exported)
  local function u32(i) local a, b, c, d = exported:byte(i, i + 3); return ((a * 256 + b) * 256 + c) * 256 + d end
  assert.equal("LWS\1", exported:sub(1, 4))
  local hl = exported:byte(10) * 256 + exported:byte(11)
  local at = 12 + hl
  at = at + 4 + u32(at)
  assert.equal(#exported - at - 3, u32(at))
  return exported:sub(at + 4)
end

for _, kind in ipairs(KINDS) do
  describe("a resumed client connection (" .. kind.name .. ")", function()
    local sctx, cctx, full, sess
    before_each(function()
      sctx, cctx = server_ctx(kind), client_ctx(kind)
      full = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost" }))
      sess = assert(full.client:session())
    end)

    local function resume(ctx, name, session)
      return assert(wolfssl.pair(ctx or cctx, sctx, { server_name = name or "localhost", client = { session = session or sess } }))
    end

    it("is verified when its session was verified for the same server_name", function()
      assert.same({ verified = true, server_name = "localhost" }, sess:verification())
      for _, name in ipairs({ "localhost", "LOCALHOST", "localhost." }) do
        local p = resume(nil, name)
        local info = p.client:info()
        assert.is_true(info.resumed, name)
        assert.is_true(info.verified, name)
        assert.is_nil(info.verify_error)
        assert.equal(full.client:peer_certificate(), p.client:peer_certificate()) -- wolfSSL keeps the chain
        assert.same(ders(full.client:verified_chain()), ders(p.client:verified_chain()))
        assert.equal(2, #p.client:verified_chain()) -- leaf and trust anchor
      end
    end)

    it("keeps it through export and import, in a new context", function()
      local bytes = sess:export()
      local again = assert(wolfssl.session(bytes))
      assert.equal(bytes, again:export())
      assert.same(sess:verification(), again:verification())
      local p = resume(client_ctx(kind), "localhost", again)
      assert.is_true(p.client:info().resumed)
      assert.is_true(p.client:info().verified)
      assert.same(ders(full.client:verified_chain()), ders(p.client:verified_chain()))
    end)

    it("is not verified for another server_name, and says so", function()
      local p = resume(nil, "127.0.0.1") -- the certificate has this IP, but the session was not checked for it
      local info = p.client:info()
      assert.is_true(info.resumed)
      assert.is_false(info.verified)
      assert.equal("session_for_other_host", info.verify_error)
      assert.is_nil(p.client:verified_chain())
      assert.equal(full.client:peer_certificate(), p.client:peer_certificate())
      -- a session made by that connection is not verified either, for either name
      local next_sess = assert(p.client:session())
      assert.same({ verified = false, verify_error = "session_for_other_host", server_name = "127.0.0.1" },
        next_sess:verification())
      assert.is_false(resume(nil, "127.0.0.1", next_sess).client:info().verified)
    end)

    it("compares IP literals as addresses", function()
      local p6 = assert(wolfssl.pair(cctx, sctx, { server_name = "::1" }))
      local s6 = assert(p6.client:session())
      local p = resume(nil, "0:0:0:0:0:0:0:1", s6)
      assert.is_true(p.client:info().resumed)
      assert.is_true(p.client:info().verified)
      assert.is_false(resume(nil, "localhost", s6).client:info().verified)
    end)

    it("is not verified when the session came from a verify = \"none\" connection", function()
      local none = assert(wolfssl.pair(client_ctx(kind, { verify = "none" }), sctx, { server_name = "localhost" }))
      local unverified = assert(none.client:session())
      assert.same({ verified = false, verify_error = "session_not_verified", server_name = nil }, unverified:verification())
      local p = resume(nil, "localhost", unverified)
      assert.is_true(p.client:info().resumed)
      assert.is_false(p.client:info().verified)
      assert.equal("session_not_verified", p.client:info().verify_error)
      assert.is_nil(p.client:verified_chain())
      local reimported = resume(nil, "localhost", assert(wolfssl.session(unverified:export())))
      assert.equal("session_not_verified", reimported.client:info().verify_error)
    end)

    it("keeps the error on_verify accepted", function()
      local lax = client_ctx(kind, { ca = certs.path("other-ca.pem"), on_verify = function() return true end })
      local first = assert(wolfssl.pair(lax, sctx, { server_name = "localhost" }))
      assert.equal("unable_to_get_issuer_cert_locally", first.client:info().verify_error)
      local p = resume(cctx, "localhost", assert(first.client:session()))
      assert.is_true(p.client:info().resumed)
      assert.is_false(p.client:info().verified)
      assert.equal("unable_to_get_issuer_cert_locally", p.client:info().verify_error)
    end)

    it("says it cannot tell for bare wolfSSL session bytes", function()
      local bare = assert(wolfssl.session(bare_wolfssl_bytes(sess:export())))
      assert.is_nil(bare:verification())
      local p = resume(nil, "localhost", bare)
      assert.is_true(p.client:info().resumed)
      assert.is_false(p.client:info().verified)
      assert.equal("session_verification_unknown", p.client:info().verify_error)
    end)

    it("passes the outcome on to the sessions it makes", function()
      local p = resume()
      local next_sess = assert(p.client:session())
      assert.same({ verified = true, server_name = "localhost" }, next_sess:verification())
      local p2 = resume(nil, "localhost", next_sess)
      assert.is_true(p2.client:info().resumed)
      assert.is_true(p2.client:info().verified)
    end)

    it("refuses bytes that are not a session", function()
      local bytes = sess:export()
      for _, bad in ipairs({ "", "LWS\1", bytes:sub(1, 40), bytes:sub(1, -2), bytes .. "x", "LWS\1" .. ("\0"):rep(30) }) do
        assert.same({ nil, "not a serialised session", "bad_input" }, { wolfssl.session(bad) })
      end
    end)

    -- wolfSSL 5.5.4's own parser crashed on these (a session id length of 0x55 made it
    -- free garbage on its error path): the binding checks the layout first
    it("refuses corrupted session bytes without crashing, bare or exported", function()
      local bare = bare_wolfssl_bytes(sess:export())
      local crash = bare:sub(1, 9) .. "\85" .. bare:sub(11)
      assert.same({ nil, "not a serialised session", "bad_input" }, { wolfssl.session(crash) })
      local exported = sess:export()
      local at = #exported - #bare + 10
      assert.same({ nil, "not a serialised session", "bad_input" },
        { wolfssl.session(exported:sub(1, at - 1) .. "\85" .. exported:sub(at + 1)) })
      local seed = 12345 -- a deterministic sweep of one- and two-byte corruptions
      local function rand(n) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n + 1 end
      for _ = 1, 400 do
        local b = bare
        for _ = 1, rand(2) do
          local i = rand(#b)
          b = b:sub(1, i - 1) .. string.char(rand(256) - 1) .. b:sub(i + 1)
        end
        local got, err, code = wolfssl.session(b)
        assert.truthy(got or (err == "not a serialised session" and code == "bad_input"))
      end
    end)
  end)

  describe("a resumed server connection (" .. kind.name .. ")", function()
    it("is verified when the client's certificate was (verify = \"required\")", function()
      local sctx = server_ctx(kind, { verify = "required", ca = certs.path("ca.pem") })
      local cctx = with_client_cert(kind)
      local full = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost" }))
      assert.is_true(full.server:info().verified)
      local p = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost", client = { session = assert(full.client:session()) } }))
      local info = p.server:info()
      assert.is_true(info.resumed)
      assert.is_true(info.verified)
      assert.is_nil(info.verify_error)
      if kind.tickets then -- a ticket holds no certificate
        assert.is_nil(p.server:peer_certificate())
        assert.is_nil(p.server:verified_chain())
      else                 -- the server's own cache keeps the chain
        assert.equal(full.server:peer_certificate(), p.server:peer_certificate())
        assert.same(ders(full.server:verified_chain()), ders(p.server:verified_chain()))
      end
    end)

    it("is not verified when the client sent no certificate (verify = \"peer\")", function()
      local sctx = server_ctx(kind, { verify = "peer", ca = certs.path("ca.pem") })
      local cctx = client_ctx(kind)
      local full = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost" }))
      assert.is_false(full.server:info().verified)
      local p = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost", client = { session = assert(full.client:session()) } }))
      assert.is_true(p.server:info().resumed)
      assert.is_false(p.server:info().verified)
      assert.equal("session_not_verified", p.server:info().verify_error)
      assert.is_nil(p.server:verified_chain())
    end)

    it("is not resumed under verify = \"required\" when on_verify let an unverified client in", function()
      local calls = 0
      local sctx = server_ctx(kind, { verify = "required", ca = certs.path("ca.pem"),
        on_verify = function(_, v) calls = calls + 1; return true end })
      local cctx = client_ctx(kind, { certificate = certs.path("untrusted.pem"), key = certs.path("untrusted.key") })
      local full = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost" }))
      assert.is_false(full.server:info().verified)
      local before = calls
      local p = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost", client = { session = assert(full.client:session()) } }))
      assert.is_false(p.server:info().resumed) -- a full handshake: the certificate is checked again
      assert.is_true(calls > before)
      assert.truthy(full.server:info().verify_error)
      assert.equal(full.server:info().verify_error, p.server:info().verify_error)
    end)

    it("is not resumed under verify = \"required\" from a context that shares its ticket keys but asked for no certificate", function()
      local keys = wolfssl.ticket_keys(("s"):rep(32))
      local front = server_ctx(kind, { ticket_keys = keys })
      local site = server_ctx(kind, { ticket_keys = keys, verify = "required", ca = certs.path("ca.pem") })
      local cctx = with_client_cert(kind)
      local first = assert(wolfssl.pair(cctx, front, { server_name = "localhost" }))
      local p = assert(wolfssl.pair(cctx, site, { server_name = "localhost", client = { session = assert(first.client:session()) } }))
      assert.is_false(p.server:info().resumed)
      assert.is_true(p.server:info().verified) -- the full handshake verified the certificate
      -- while a verified ticket from one site resumes on another that shares the keys
      local other = server_ctx(kind, { ticket_keys = keys, verify = "required", ca = certs.path("ca.pem") })
      local verified = assert(wolfssl.pair(cctx, site, { server_name = "localhost" }))
      local q2 = assert(wolfssl.pair(cctx, other, { server_name = "localhost",
        client = { session = assert(verified.client:session()) } }))
      assert.equal(kind.tickets, q2.server:info().resumed) -- session ids stay in each context's own cache
      assert.is_true(q2.server:info().verified)
    end)

    it("reports a resumption as a full handshake when the server verifies nobody", function()
      local sctx = server_ctx(kind)
      local cctx = with_client_cert(kind)
      local full = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost" }))
      local p = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost", client = { session = assert(full.client:session()) } }))
      assert.is_true(p.server:info().resumed)
      assert.same({ false, nil }, { p.server:info().verified, p.server:info().verify_error })
    end)
  end)
end

describe("a resumed server connection", function()
  it("says it cannot tell when wolfSSL's own session cache resumed it (session_cache = true)", function()
    local kind = KINDS[1]
    local sctx = server_ctx(kind, { verify = "required", ca = certs.path("ca.pem"), session_cache = true })
    local cctx = with_client_cert(kind)
    local full = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost" }))
    local p = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost", client = { session = assert(full.client:session()) } }))
    assert.is_true(p.server:info().resumed)
    assert.is_false(p.server:info().verified)
    assert.equal("session_verification_unknown", p.server:info().verify_error)
  end)

  it("keeps the verified chain in its own cache (TLS 1.2 session ids)", function()
    local kind = KINDS[1]
    local sctx = server_ctx(kind, { verify = "required", ca = certs.path("ca.pem") })
    local cctx = with_client_cert(kind)
    local full = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost" }))
    local p = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost", client = { session = assert(full.client:session()) } }))
    assert.is_true(p.server:info().resumed)
    assert.equal("test client", p.server:peer_certificate():subject()[1].value)
    assert.same(ders(full.server:verified_chain()), ders(p.server:verified_chain()))
  end)

  -- The ticket's IV says which keys sealed it; flipping that bit must not turn the ticket
  -- of an unverified client into one of a verified client.
  for _, kind in ipairs({ KINDS[2], KINDS[3] }) do
    it("does not accept a ticket whose verified bit was flipped (" .. kind.name .. ")", function()
      local keys = wolfssl.ticket_keys(("t"):rep(32), 0)
      local sctx = server_ctx(kind, { verify = "peer", ca = certs.path("ca.pem"), ticket_keys = keys })
      local cctx = client_ctx(kind)
      local full = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost" }))
      local bytes = assert(full.client:session()):export()
      -- the exported session holds the ticket as the server sent it: key name, then the IV
      local at = bytes:find(keys:name(), 1, true)
      assert.truthy(at, "the ticket is in the exported session")
      local iv = at + 16
      local flipped = bytes:sub(1, iv - 1) .. string.char(bytes:byte(iv) % 2 == 0 and bytes:byte(iv) + 1 or bytes:byte(iv) - 1)
        .. bytes:sub(iv + 1)
      local plain = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost", client = { session = wolfssl.session(bytes) } }))
      assert.is_true(plain.server:info().resumed)
      assert.equal("session_not_verified", plain.server:info().verify_error)
      local p = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost", client = { session = wolfssl.session(flipped) } }))
      assert.is_false(p.server:info().resumed) -- rejected: a full handshake
      assert.is_false(p.server:info().verified)
      assert.is_nil(p.server:info().verify_error)
    end)
  end
end)

describe("against openssl", function()
  describe("a lua-wolfssl client resuming with s_server", function()
    -- one request to s_server -www; returns the connection's facts and its session
    local function fetch(ctx, port, session, name)
      local tcp = assert(socket.connect("127.0.0.1", port))
      local conn = assert(ctx:connection({ server_name = name or "localhost", fd = tcp:getfd(), session = session }))
      conn:settimeout(5)
      local ok, err = conn:handshake()
      assert(ok, err)
      assert(conn:write("GET / HTTP/1.0\r\n\r\n"))
      repeat local data = conn:read() until not data
      local r = { session = conn:session(2), info = conn:info(), chain = ders(conn:verified_chain()) }
      conn:close()
      tcp:close()
      return r
    end

    for _, kind in ipairs(KINDS) do
      it("keeps verified = true for the same name (" .. kind.name .. "), also from an exported session", function()
        local server = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"), args = "-www " .. kind.s_server })
        local ctx = client_ctx(kind)
        local first = fetch(ctx, server.port)
        assert.is_true(first.info.verified)
        local again = fetch(ctx, server.port, assert(first.session))
        assert.is_true(again.info.resumed)
        assert.is_true(again.info.verified)
        assert.same(first.chain, again.chain)
        local imported = fetch(client_ctx(kind), server.port, assert(wolfssl.session(first.session:export())))
        assert.is_true(imported.info.resumed)
        assert.is_true(imported.info.verified)
        -- and a session of a verify = "none" client does not make a verified connection
        local none = fetch(client_ctx(kind, { verify = "none" }), server.port)
        local from_none = fetch(ctx, server.port, assert(none.session))
        assert.is_true(from_none.info.resumed)
        assert.is_false(from_none.info.verified)
        assert.equal("session_not_verified", from_none.info.verify_error)
      end)
    end
  end)

  describe("s_client resuming with a lua-wolfssl server that requires a client certificate", function()
    local function serve(ctx, listener, port, args)
      local client = peer.s_client(port, { input = "hello\n", args = args .. " -ign_eof -servername localhost -CAfile "
        .. q(certs.path("ca.pem")) .. " -cert " .. q(certs.path("client.pem")) .. " -key " .. q(certs.path("client.key")) })
      local sock = assert(listener:accept())
      local conn = assert(ctx:connection({ fd = sock:getfd() }))
      conn:settimeout(5)
      assert(conn:handshake())
      local line = ""
      while not line:find("\n") do line = line .. assert(conn:read()) end
      conn:write("bye\n")
      conn:shutdown()
      local info = conn:info()
      local subject = conn:peer_certificate() and tostring(conn:peer_certificate():subject())
      conn:close()
      sock:close()
      assert.is_true(peer.wait(client, 5), "s_client did not exit")
      peer.stop(client)
      return info, peer.output(client), subject
    end

    for _, kind in ipairs(KINDS) do
      it("reports the resumed client as verified (" .. kind.name .. ", -sess_out then -sess_in)", function()
        local ctx = server_ctx(kind, { verify = "required", ca = certs.path("ca.pem"), tickets = kind.tickets })
        local listener, port = peer.listen()
        listener:settimeout(10)
        finally(function() listener:close() end)
        local file = tmp.path("rv-" .. kind.name:gsub("%W", "") .. ".pem")
        local info, out = serve(ctx, listener, port, kind.s_client .. " -sess_out " .. q(file))
        assert.is_false(info.resumed)
        assert.is_true(info.verified)
        assert.matches("New, ", out, 1, true)
        local info2, out2, subject = serve(ctx, listener, port, kind.s_client .. " -sess_in " .. q(file))
        assert.matches("Reused, ", out2, 1, true)
        assert.is_true(info2.resumed)
        assert.is_true(info2.verified)
        assert.is_nil(info2.verify_error)
        if not kind.tickets then assert.equal("CN=test client", subject) end -- from the server's own cache
      end)
    end
  end)
end)
