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
    local port = peer.wait_output(proc, "listening on 127%.0%.0%.1:(%d+)")
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
    assert.matches("client connected: TLSv1.3 TLS_CHACHA20_POLY1305_SHA256", peer.output(proc), 1, true)
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

-- Start a long-running example and wait for its "listening on 127.0.0.1:PORT" line.
local function start_server(script, args)
  local proc = peer.spawn(("%s examples/%s %s"):format(LUA, script, args), { lua = true })
  return proc, peer.wait_output(proc, "listening on 127%.0%.0%.1:(%d+)")
end

describe("examples/pinning_client.lua", function()
  local pki = require "wolfssl.pki"
  local server
  after_each(function() peer.stop(server) end)

  -- a self-signed server no CA vouches for
  local cert, key = pki.certificate({ subject = "CN=pinned server", dns = { "localhost" } })
  local cert_file = tmp.write("pinned.pem", cert:pem())
  local key_file = tmp.write("pinned.key", key:pem())

  it("accepts a self-signed server by its SPKI pin", function()
    server = peer.s_server({ cert = cert_file, key = key_file, args = "-www" })
    local out, finished = run("pinning_client.lua", ("127.0.0.1 %d %s localhost"):format(server.port, q(cert:spki_pin())))
    assert.is_true(finished, out)
    assert.matches("accepted by pin: " .. cert:spki_pin(), out, 1, true)
    assert.matches("server:          CN=pinned server", out, 1, true)
    assert.matches("CA-verified:     false", out, 1, true)
  end)

  it("rejects a server whose key has another pin, CA-signed or not, naming the key it saw", function()
    server = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"), args = "-www" })
    local ec_pin = wolfssl.certificate(certs.read("ec.pem")):spki_pin()
    local out = run("pinning_client.lua", ("127.0.0.1 %d %s localhost"):format(server.port, q(cert:spki_pin())))
    assert.matches("rejected: certificate verify failed: rejected by on_verify: pin mismatch: server key is "
      .. ec_pin .. " (depth 0, CN=localhost) (sent alert unknown_ca) (verify_failed)", out, 1, true)
  end)
end)

describe("examples/mtls_server.lua and examples/mtls_client.lua", function()
  local server
  after_each(function() peer.stop(server) end)

  it("greet each other by certificate", function()
    local port
    server, port = start_server("mtls_server.lua", ("%s %s %s 0 --once"):format(
      q(certs.path("ec.pem")), q(certs.path("ec.key")), q(certs.path("ca.pem"))))
    local out, finished = run("mtls_client.lua", ("127.0.0.1 %d %s %s %s localhost"):format(port,
      q(certs.path("ca.pem")), q(certs.path("client.pem")), q(certs.path("client.key"))))
    assert.is_true(finished, out)
    assert.matches("server: CN=localhost, verified true", out, 1, true)
    assert.matches("server says: hello test client", out, 1, true)
    assert.is_true(peer.wait(server, 5))
    assert.matches("client CN=test client (verified true, issued by O=lua-wolfssl tests,CN=lua-wolfssl Test CA)",
      peer.output(server), 1, true)
  end)

  it("refuse a client whose certificate the server's CA did not issue", function()
    local stranger, skey = certs.other_ca:issue({ subject = "CN=stranger", eku = { "clientAuth" } })
    local port
    server, port = start_server("mtls_server.lua", ("%s %s %s 0 --once"):format(
      q(certs.path("ec.pem")), q(certs.path("ec.key")), q(certs.path("ca.pem"))))
    local out = run("mtls_client.lua", ("127.0.0.1 %d %s %s %s localhost"):format(port, q(certs.path("ca.pem")),
      q(tmp.write("stranger.pem", stranger:pem())), q(tmp.write("stranger.key", skey:pem()))))
    assert.matches("refused: read failed: received alert unknown_ca (alert)", out, 1, true)
    assert.is_true(peer.wait(server, 5))
    assert.matches("refused a client: certificate verify failed: unable to get local issuer certificate "
      .. "(depth 0, CN=stranger) (sent alert unknown_ca) (verify_failed)", peer.output(server), 1, true)
  end)
end)

describe("examples/inspect_cert.lua", function()
  it("prints every certificate of a file as a Lua table that loads back", function()
    local bundle = tmp.write("bundle.pem", certs.read("rsa.pem") .. certs.read("ca.pem"))
    local out, finished = run("inspect_cert.lua", q(bundle))
    assert.is_true(finished, out)
    local chunk = assert((loadstring or load)(out))
    local list = chunk()
    assert.equal(2, #list)
    for i, cert in ipairs(assert(wolfssl.certificates(tmp.read(bundle)))) do
      local t = list[i]
      assert.equal(tostring(cert:subject()), t.subject)
      assert.equal(tostring(cert:issuer()), t.issuer)
      assert.equal(cert:serial(), t.serial)
      assert.equal(cert:not_after(), t.not_after)
      assert.equal(cert:fingerprint(), t.sha256_fingerprint)
      assert.equal(cert:spki_pin(), t.spki_pin)
      assert.same(cert:public_key(), t.public_key)
      assert.same(cert:alt_names(), t.alt_names)
      assert.same(cert:extensions(), t.extensions)
      assert.equal(cert:is_ca(), t.is_ca)
    end
    assert.equal("rsa", list[1].public_key.type)
    assert.same({ "localhost" }, list[1].alt_names.dns)
  end)

  it("says why it cannot read a file", function()
    local out = run("inspect_cert.lua", q(tmp.write("junk.pem", "-----BEGIN nothing")))
    assert.matches("junk.pem: no PEM certificate found", out, 1, true)
  end)
end)
