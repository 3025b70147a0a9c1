-- Every example runs, so none can rot: each is started as its own process with the
-- interpreter under test, against a real peer on 127.0.0.1.
local socket = require "socket"
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"
local peer = require "spec.helpers.peer"
local tmp = require "spec.helpers.tmp"

local LUA = os.getenv("LW_LUA") or "lua5.4"
local q = tmp.quote

-- Run an example to completion (bounded); returns its output and whether it succeeded.
local function run(script, args, timeout)
  local proc = peer.spawn(("%s examples/%s %s"):format(LUA, script, args or ""), { lua = true })
  local finished = peer.wait(proc, timeout or 20)
  peer.stop(proc)
  return peer.output(proc), finished
end

describe("examples/https_get.lua", function()
  it("fetches a page from an HTTPS server, verified, and prints what was negotiated", function()
    local server = peer.s_server({ cert = certs.path("rsa.pem"), key = certs.path("rsa.key"), args = "-www" })
    local out, finished = run("https_get.lua", ("https://localhost:%d/ %s"):format(server.port, q(certs.path("ca.pem"))))
    peer.stop(server)
    assert.is_true(finished, out)
    assert.matches("status:  HTTP/1.0 200 ok", out, 1, true)
    assert.matches("version: TLSv1.3", out, 1, true)
    assert.matches("cipher:  TLS_AES_128_GCM_SHA256", out, 1, true)
    assert.matches("group:   x25519", out, 1, true)
    assert.matches("peer:    CN=localhost", out, 1, true)
    assert.matches("verified: true", out, 1, true)
  end)

  it("refuses a server its CA file does not vouch for", function()
    local server = peer.s_server({ cert = certs.path("untrusted.pem"), key = certs.path("untrusted.key"), args = "-www" })
    local out = run("https_get.lua", ("https://localhost:%d/ %s"):format(server.port, q(certs.path("ca.pem"))))
    peer.stop(server)
    assert.matches("handshake: certificate verify failed: unable to get local issuer certificate", out, 1, true)
    assert.matches("(verify_failed)", out, 1, true)
  end)
end)

describe("examples/echo_server.lua", function()
  it("echoes what a verified client sends", function()
    local proc = peer.spawn(("%s examples/echo_server.lua %s %s 0 --once"):format(LUA,
      q(certs.path("ec.pem")), q(certs.path("ec.key"))), { lua = true })
    local port
    local deadline = socket.gettime() + 10
    repeat
      port = peer.output(proc):match("listening on 127%.0%.0%.1:(%d+)")
      if not port then socket.sleep(0.02) end
    until port or socket.gettime() > deadline
    assert.truthy(port, peer.output(proc))
    local ctx = assert(wolfssl.context({ role = "client", ca = certs.path("ca.pem") }))
    local tcp = assert(socket.connect("127.0.0.1", tonumber(port)))
    local conn = assert(ctx:connection({ server_name = "localhost", fd = tcp:getfd() }))
    conn:settimeout(5)
    assert.is_true(conn:handshake())
    conn:write("echo me")
    local got = ""
    while #got < 7 do got = got .. assert(conn:read()) end
    assert.equal("echo me", got)
    conn:shutdown()
    conn:close()
    tcp:close()
    assert.is_true(peer.wait(proc, 5))
    peer.stop(proc)
    assert.matches("client connected: TLSv1.3 TLS_AES_128_GCM_SHA256", peer.output(proc), 1, true)
  end)
end)

describe("examples/demo.lua (make demo)", function()
  it("makes a PKI, starts the echo server, handshakes, echoes and stops it", function()
    local out, finished = run("demo.lua", "", 30)
    assert.is_true(finished, out)
    assert.matches("handshake summary", out, 1, true)
    assert.matches("verified  true", out, 1, true)
    assert.matches('sent "hello, TLS", echoed "hello, TLS"', out, 1, true)
    assert.matches("stopped the echo server", out, 1, true)
  end)
end)
