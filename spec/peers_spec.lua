-- lua-wolfssl talks to real TLS peers (openssl s_server and s_client) on 127.0.0.1,
-- over both transports: memory (bytes through LuaSocket) and fd (recv/send in C).
local socket = require "socket"
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"
local contexts = require "spec.helpers.ctx"
local peer = require "spec.helpers.peer"
local drive = require "spec.helpers.drive"

local VERSIONS = { ["tls1.2"] = "TLSv1.2", ["tls1.3"] = "TLSv1.3" }

local function client_ctx(version) return contexts.client(contexts.version(version)) end

-- Connect, handshake, send a line, read the reversed line back, close.
local function talk(ctx, port, transport, line)
  local sock = assert(socket.connect("127.0.0.1", port))
  finally(function() sock:close() end)
  local conn, ok, err, code, reply
  if transport == "fd" then
    conn = assert(ctx:connection({ server_name = "localhost", fd = sock:getfd() }))
    conn:settimeout(5)
    ok, err, code = conn:handshake()
    assert.is_true(ok, err)
    assert.equal(#line, conn:write(line))
    local parts = {}
    repeat
      local d = conn:read()
      parts[#parts + 1] = d
    until not d or table.concat(parts):find("\n")
    reply = table.concat(parts)
    conn:shutdown()
  else
    conn = assert(ctx:connection({ server_name = "localhost" }))
    ok, err, code = drive.call(conn, sock, "handshake")
    assert.is_true(ok, err)
    conn:write(line)
    reply = drive.read_all(conn, sock, function(s) return s:find("\n") end)
    conn:shutdown()
    sock:send(conn:take())
  end
  local info = conn:info()
  conn:close()
  sock:close()
  return reply, info
end

describe("a lua-wolfssl client against openssl s_server", function()
  -- one server per test: s_server serves one connection at a time, so a test that
  -- failed half way must not stall the next one
  local server
  before_each(function()
    server = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"), args = "-rev" })
  end)
  after_each(function() peer.stop(server) end)

  for version, name in pairs(VERSIONS) do
    for _, transport in ipairs({ "memory", "fd" }) do
      it(("completes a verified %s handshake and exchanges data (%s transport)"):format(name, transport), function()
        local reply, info = talk(client_ctx(version), server.port, transport, "hello world\n")
        assert.equal("dlrow olleh\n", reply)
        assert.equal(name, info.version)
        assert.is_true(info.verified)
        -- what the server says it negotiated agrees with info()
        local log = peer.output(server)
        assert.matches("Protocol version: " .. name, log, 1, true)
        assert.matches("Ciphersuite: " .. (version == "tls1.3" and info.cipher or info.cipher_name), log, 1, true)
      end)
    end
  end

  it("handshakes over a non-blocking fd, returning wantread/wantwrite to a select() loop", function()
    local sock = assert(socket.connect("127.0.0.1", server.port))
    finally(function() sock:close() end)
    local conn = assert(client_ctx("tls1.3"):connection({ server_name = "localhost", fd = sock:getfd() }))
    conn:settimeout(0)
    local waits, deadline = 0, socket.gettime() + 5
    while true do
      local ok, err, code = conn:handshake()
      if ok then break end
      assert.is_truthy(code == "wantread" or code == "wantwrite", err)
      waits = waits + 1
      assert.is_true(socket.gettime() < deadline, "handshake timed out")
      if code == "wantread" then socket.select({ sock }, nil, 1) else socket.select(nil, { sock }, 1) end
    end
    -- (whether it had to wait depends on how fast s_server answered; that it never
    -- blocks is shown deterministically in transport_spec)
    assert.equal(6, conn:write("abcde\n"))
    local got, data, code = "", nil, nil
    while not got:find("\n") and socket.gettime() < deadline do
      data, _, code = conn:read()
      if data then got = got .. data else
        assert.equal("wantread", code)
        socket.select({ sock }, nil, 1)
      end
    end
    assert.equal("edcba\n", got)
    conn:close()
    sock:close()
  end)

  it("times out a blocking fd read after settimeout(t) with code 'timeout'", function()
    local sock = assert(socket.connect("127.0.0.1", server.port))
    finally(function() sock:close() end)
    local conn = assert(client_ctx("tls1.3"):connection({ server_name = "localhost", fd = sock:getfd() }))
    conn:settimeout(5)
    assert.is_true(conn:handshake())
    conn:settimeout(0.2)
    local t0 = socket.gettime()
    local data, err, code = conn:read() -- s_server -rev says nothing until it gets a line
    assert.is_nil(data)
    assert.equal("timeout", code, err)
    assert.is_true(socket.gettime() - t0 >= 0.15)
    conn:close()
    sock:close()
  end)
end)

describe("a lua-wolfssl server against openssl s_client", function()
  for version, name in pairs(VERSIONS) do
    for _, transport in ipairs({ "memory", "fd" }) do
      it(("serves a verified %s client and exchanges data (%s transport)"):format(name, transport), function()
        local listener, port = peer.listen()
        local ctx = assert(wolfssl.context({ role = "server", certificate = certs.path("rsa.pem"),
          key = certs.path("rsa.key"), min_version = version, max_version = version }))
        local client = peer.s_client(port, {
          input = "hello from s_client\n",
          args = ("-CAfile %s -verify_return_error -servername localhost -ign_eof"):format(certs.path("ca.pem")),
        })
        finally(function() peer.stop(client) end)
        listener:settimeout(5)
        local sock = assert(listener:accept())
        listener:close()
        finally(function() sock:close() end)
        local conn, line
        if transport == "fd" then
          conn = assert(ctx:connection({ fd = sock:getfd() }))
          conn:settimeout(5)
          assert.is_true(conn:handshake())
          local parts = {}
          repeat parts[#parts + 1] = conn:read() until table.concat(parts):find("\n")
          line = table.concat(parts)
          conn:write("hello from lua-wolfssl\n")
          conn:shutdown()
        else
          conn = assert(ctx:connection())
          assert.is_true(drive.call(conn, sock, "handshake"))
          line = drive.read_all(conn, sock, function(s) return s:find("\n") end)
          conn:write("hello from lua-wolfssl\n")
          conn:shutdown()
          sock:send(conn:take())
        end
        assert.equal("hello from s_client\n", line)
        local info = conn:info()
        assert.equal(name, info.version)
        assert.equal("localhost", info.server_name) -- the SNI s_client sent
        conn:close()
        sock:close()
        assert.is_true(peer.wait(client, 5), "s_client did not exit")
        peer.stop(client)
        local out = peer.output(client)
        assert.matches("hello from lua-wolfssl", out, 1, true)
        assert.matches("Verify return code: 0 (ok)", out, 1, true)
        assert.matches(name, out, 1, true)
      end)
    end
  end
end)
