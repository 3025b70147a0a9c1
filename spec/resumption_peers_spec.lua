-- Resumption with real peers on 127.0.0.1: a lua-wolfssl client against openssl
-- s_server and an openssl s_client against a lua-wolfssl server, for a TLS 1.2 session
-- id, a TLS 1.2 ticket and a TLS 1.3 ticket; a ticket the server cannot use; a session
-- exported by one process and resumed by another; two server processes sharing keys.
local socket = require "socket"
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"
local contexts = require "spec.helpers.ctx"
local peer = require "spec.helpers.peer"
local tmp = require "spec.helpers.tmp"

local LUA = os.getenv("LW_LUA") or "lua5.4"
local q = tmp.quote

local KINDS = {
  { name = "TLS 1.2 session id", version = "tls1.2", ticket = false, s_server = "-tls1_2 -no_ticket", s_client = "-tls1_2" },
  { name = "TLS 1.2 ticket", version = "tls1.2", ticket = true, s_server = "-tls1_2", s_client = "-tls1_2" },
  { name = "TLS 1.3 ticket", version = "tls1.3", ticket = true, s_server = "-tls1_3", s_client = "-tls1_3" },
}

-- busted keeps one finally() per test: every peer process a test started is stopped here
after_each(function() peer.stop_all() end)

local function client_ctx(version) return contexts.client({ max_version = version }) end

-- One request to an openssl s_server -www; returns the session and info().
local function fetch(ctx, port, session)
  local tcp = assert(socket.connect("127.0.0.1", port))
  local conn = assert(ctx:connection({ server_name = "localhost", fd = tcp:getfd(), session = session }))
  conn:settimeout(5)
  local ok, err, code = conn:handshake()
  if not ok then conn:close(); tcp:close(); return nil, err, code end
  assert(conn:write("GET / HTTP/1.0\r\n\r\n"))
  local page = ""
  repeat
    local data = conn:read()
    page = page .. (data or "")
  until not data
  local sess = conn:session(2)
  local info = conn:info()
  conn:close()
  tcp:close()
  return sess, info, page
end

describe("a lua-wolfssl client resuming with openssl s_server", function()
  local server
  after_each(function() peer.stop(server) end)

  for _, kind in ipairs(KINDS) do
    it("resumes a " .. kind.name, function()
      server = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"), args = "-www " .. kind.s_server })
      local ctx = client_ctx(kind.version)
      local sess, info, page = fetch(ctx, server.port)
      assert.truthy(sess, info)
      assert.is_false(info.resumed)
      assert.matches("HTTP/1.0 200 ok", page, 1, true)
      assert.equal(kind.ticket, sess:has_ticket())
      local sess2, info2, page2 = fetch(ctx, server.port, sess)
      assert.truthy(sess2, info2)
      assert.is_true(info2.resumed)
      assert.equal(kind.version == "tls1.3" and "TLSv1.3" or "TLSv1.2", info2.version)
      assert.matches("Reused, ", page2, 1, true) -- what s_server -www reports about the session
      -- a session exported and imported into a fresh context resumes too
      local sess3, info3 = fetch(client_ctx(kind.version), server.port, assert(wolfssl.session(sess:export())))
      assert.truthy(sess3, info3)
      assert.is_true(info3.resumed)
    end)
  end

  it("gets a working full handshake when another s_server ignores its TLS 1.2 ticket (not wolfSSL's -373)", function()
    server = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"), args = "-www -tls1_2" })
    local ctx = client_ctx("tls1.2")
    local sess = assert(fetch(ctx, server.port))
    assert.is_true(sess:has_ticket())
    peer.stop(server)
    -- a new s_server process has new ticket keys: it cannot decrypt the ticket
    server = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"), args = "-www -tls1_2" })
    local sess2, info, page = fetch(ctx, server.port, sess)
    assert.truthy(sess2, info)
    assert.is_false(info.resumed)
    assert.matches("HTTP/1.0 200 ok", page, 1, true)
    assert.is_true(assert(select(2, fetch(ctx, server.port, sess2))).resumed) -- its new ticket works
  end)
end)

describe("openssl s_client resuming with a lua-wolfssl server", function()
  -- Serve one s_client connection: a line in, a line out. Returns the server's info().
  local function serve(ctx, listener, port, args)
    local client = peer.s_client(port, { input = "hello\n", args = args .. " -ign_eof -servername localhost -CAfile "
      .. q(certs.path("ca.pem")) })
    local sock = assert(listener:accept())
    local conn = assert(ctx:connection({ fd = sock:getfd() }))
    conn:settimeout(5)
    assert.is_true(conn:handshake())
    local line = ""
    while not line:find("\n") do line = line .. assert(conn:read()) end
    conn:write("bye\n")
    conn:shutdown()
    local info = conn:info()
    conn:close()
    sock:close()
    assert.is_true(peer.wait(client, 5), "s_client did not exit")
    peer.stop(client)
    return info, peer.output(client)
  end

  for _, kind in ipairs(KINDS) do
    it("lets it resume a " .. kind.name .. " (-sess_out, then -sess_in)", function()
      local ctx = assert(wolfssl.context({ role = "server", certificate = certs.path("ec.pem"), key = certs.path("ec.key"),
        max_version = kind.version, tickets = kind.ticket }))
      local listener, port = peer.listen()
      listener:settimeout(10)
      finally(function() listener:close() end)
      local file = tmp.path("s_client-" .. kind.name:gsub("%W", "") .. ".pem")
      local info, out = serve(ctx, listener, port, kind.s_client .. " -sess_out " .. q(file))
      assert.is_false(info.resumed)
      assert.matches("New, ", out, 1, true)
      info, out = serve(ctx, listener, port, kind.s_client .. " -sess_in " .. q(file))
      assert.is_true(info.resumed)
      assert.matches("Reused, ", out, 1, true)
      assert.matches("bye", out, 1, true)
    end)
  end
end)

describe("examples/resume_client.lua", function()
  local server
  before_each(function()
    server = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"), args = "-www" })
  end)
  after_each(function() peer.stop(server) end)

  local function run(args)
    local proc = peer.spawn(("%s examples/resume_client.lua localhost %d %s %s"):format(LUA, server.port,
      q(certs.path("ca.pem")), args or ""), { lua = true })
    assert.is_true(peer.wait(proc, 20))
    peer.stop(proc)
    return peer.output(proc)
  end

  for _, flag in ipairs({ "", "--tls1.2" }) do
    it("prints a full then a resumed handshake with their times " .. flag, function()
      local out = run(flag)
      assert.matches("handshake 1: resumed=false  [%d.]+ ms  TLSv1.%d  verified=true\n", out)
      assert.matches("handshake 2: resumed=true  [%d.]+ ms  TLSv1.%d  verified=true\n", out)
    end)

    it("resumes in a new process from the session the last run saved " .. flag, function()
      local file = tmp.path("resume-session" .. flag .. ".bin")
      assert.matches("handshake 1: resumed=false", run(flag .. " --session " .. q(file)), 1, true)
      assert.truthy(tmp.read(file))
      assert.matches("handshake 1: resumed=true  [%d.]+ ms  TLSv1.%d  verified=true\n", run(flag .. " --session " .. q(file)))
    end)
  end
end)

describe("two lua-wolfssl server processes sharing ticket keys", function()
  for _, flag in ipairs({ "", "--tls1.2" }) do
    it("resume each other's sessions (examples/shared_tickets.lua " .. flag .. ")", function()
      local proc = peer.spawn(("%s examples/shared_tickets.lua %s %s %s %s"):format(LUA, q(certs.path("ec.pem")),
        q(certs.path("ec.key")), q(certs.path("ca.pem")), flag), { lua = true })
      assert.is_true(peer.wait(proc, 30))
      peer.stop(proc)
      local out = peer.output(proc)
      local v = flag == "" and "TLSv1.3" or "TLSv1.2"
      assert.matches("server A: resumed=false " .. v .. " (the server says resumed=false)", out, 1, true)
      assert.matches("server B: resumed=true " .. v .. " (the server says resumed=true)", out, 1, true)
    end)
  end

  it("resume a session that a client process exported, in a new client process", function()
    local secret = tmp.write("shared-secret", wolfssl.random(32))
    local srv = peer.spawn(("%s examples/shared_tickets.lua serve %s %s %s"):format(LUA, q(secret),
      q(certs.path("ec.pem")), q(certs.path("ec.key"))), { lua = true })
    finally(function() peer.stop(srv) end)
    local port = peer.wait_output(srv, "listening on 127%.0%.0%.1:(%d+)")
    local file = tmp.path("lua-server-session.bin")
    for i, expect in ipairs({ "false", "true" }) do
      local proc = peer.spawn(("%s examples/resume_client.lua localhost %s %s --session %s"):format(LUA, port,
        q(certs.path("ca.pem")), q(file)), { lua = true })
      assert.is_true(peer.wait(proc, 20))
      peer.stop(proc)
      assert.matches("handshake 1: resumed=" .. expect, peer.output(proc), 1, true, "run " .. i)
    end
  end)
end)
