-- The fd transport under back-pressure: a non-blocking socket fills up, write() says
-- wantwrite, and the script retries with the same data until all of it has gone out.
local socket = require "socket"
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"

-- A connected pair of TLS connections over real loopback sockets in this process.
local function socket_pair()
  local listener = assert(socket.bind("127.0.0.1", 0))
  local _, port = listener:getsockname()
  local ctcp = assert(socket.connect("127.0.0.1", port))
  listener:settimeout(5)
  local stcp = assert(listener:accept())
  listener:close()
  local cctx = assert(wolfssl.context({ role = "client", ca = certs.path("ca.pem") }))
  local sctx = assert(wolfssl.context({ role = "server", certificate = certs.path("ec.pem"), key = certs.path("ec.key") }))
  local c = assert(cctx:connection({ server_name = "localhost", fd = ctcp:getfd() }))
  local s = assert(sctx:connection({ fd = stcp:getfd() }))
  c:settimeout(0)
  s:settimeout(0)
  local done, deadline = {}, socket.gettime() + 5
  while not (done.c and done.s) do
    assert(socket.gettime() < deadline, "handshake over sockets timed out")
    for name, conn in pairs({ c = c, s = s }) do
      if not done[name] then
        local ok, err, code = conn:handshake()
        if ok then done[name] = true else assert(code == "wantread" or code == "wantwrite", err) end
      end
    end
    socket.select({ ctcp, stcp }, nil, 0.05)
  end
  return c, s, ctcp, stcp
end

describe("the fd transport", function()
  it("never blocks under settimeout(0): handshake() says wantread while the peer is silent", function()
    local listener = assert(socket.bind("127.0.0.1", 0))
    local _, port = listener:getsockname()
    local tcp = assert(socket.connect("127.0.0.1", port))
    finally(function() tcp:close(); listener:close() end)
    local ctx = assert(wolfssl.context({ role = "client", ca = certs.path("ca.pem") }))
    local conn = assert(ctx:connection({ server_name = "localhost", fd = tcp:getfd() }))
    conn:settimeout(0)
    -- nobody has even accepted the connection: the ClientHello goes out, no answer can
    -- have come back, and the call must return at once rather than wait
    local t0 = socket.gettime()
    assert.same({ nil, "wantread", "wantread" }, { conn:handshake() })
    assert.same({ nil, "wantread", "wantread" }, { conn:handshake() })
    assert.is_true(socket.gettime() - t0 < 1)
    local server = assert(listener:accept())
    server:settimeout(1)
    local hello = server:receive(5) -- a TLS handshake record header
    server:close()
    assert.equal(22, hello:byte(1))
    conn:close()
  end)

  it("says wantwrite when the socket is full and completes a retry with the same data", function()
    local c, s, ctcp, stcp = socket_pair()
    finally(function() c:close(); s:close(); ctcp:close(); stcp:close() end)
    local parts = {}
    for i = 1, 512 do parts[i] = ("%015d\n"):format(i):rep(1024) end -- 8 MiB, not all alike
    local big = table.concat(parts)
    local received, got = {}, 0
    local wantwrites, written = 0, nil
    local deadline = socket.gettime() + 30
    while got < #big do
      assert(socket.gettime() < deadline, "transfer timed out")
      if not written then
        local n, err, code = c:write(big)
        if n then
          assert.equal(#big, n)
          written = n
        else
          assert.equal("wantwrite", code, err)
          wantwrites = wantwrites + 1
          if wantwrites == 1 then
            -- a retry with less data than wolfSSL already took is refused, not corrupted
            local r, rerr, rcode = c:write(big:sub(1, 100))
            assert.is_nil(r)
            assert.equal("bad_input", rcode)
            assert.matches("must repeat the same data", rerr)
          end
        end
      end
      -- the receiver drains a little at a time, so the sender really meets a full socket
      for _ = 1, 8 do
        local data, _, code = s:read()
        if not data then assert.equal("wantread", code) break end
        received[#received + 1] = data
        got = got + #data
      end
      socket.select({ stcp }, nil, 0.01)
    end
    assert.is_true(wantwrites > 0, "the socket never filled up")
    assert.equal(#big, written)
    assert.is_true(table.concat(received) == big, "bytes differ")
  end)
end)
