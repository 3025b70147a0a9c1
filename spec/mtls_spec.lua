-- Client certificates: a server that requires or accepts one, a client that presents
-- one, and TLS 1.3 post-handshake authentication, in memory and against openssl.
local socket = require "socket"
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"
local contexts = require "spec.helpers.ctx"
local peer = require "spec.helpers.peer"
local tmp = require "spec.helpers.tmp"

local q = tmp.quote

local function server_ctx(verify, extra)
  return contexts.server(contexts.merge({ ca = certs.path("ca.pem"), verify = verify }, extra))
end

local function client_ctx(with_cert, extra)
  local o = {}
  if with_cert then o.certificate, o.key = certs.path("client.pem"), certs.path("client.key") end
  return contexts.client(contexts.merge(o, extra))
end

describe("a server with verify = 'required'", function()
  it("reads the client's certificate, verified", function()
    local p = assert(wolfssl.pair(client_ctx(true), server_ctx("required"), { server_name = "localhost" }))
    assert.equal("CN=test client", tostring(p.server:peer_certificate():subject()))
    assert.is_true(p.server:info().verified)
    assert.equal(certs.read("client.pem"), p.server:verified_chain()[1]:pem())
    assert.equal("hello", p:transfer("client", "hello"))
  end)

  it("refuses a TLS 1.3 client without one: alert certificate_required, clear errors both sides", function()
    local p, err, code, side, pair = wolfssl.pair(client_ctx(false), server_ctx("required"), { server_name = "localhost" })
    assert.is_nil(p)
    assert.equal("server", side)
    assert.equal("verify_failed", code)
    assert.equal("certificate verify failed: peer did not return a certificate (sent alert certificate_required)", err)
    assert.equal("peer_certificate_missing", pair.server:info().verify_error)
    -- the client finished its side first; its next read hears why
    local data, cerr, ccode = pair.client:read()
    assert.is_nil(data)
    assert.equal("alert", ccode)
    assert.equal("read failed: received alert certificate_required", cerr)
  end)

  it("refuses a TLS 1.2 client without one, with an alert wolfSSL alone would not send", function()
    local p, err, code, side, pair = wolfssl.pair(client_ctx(false, { max_version = "tls1.2" }),
      server_ctx("required"), { server_name = "localhost" })
    assert.is_nil(p)
    assert.equal("server", side)
    assert.equal("verify_failed", code)
    assert.equal("certificate verify failed: peer did not return a certificate (sent alert bad_certificate)", err)
    assert.same({ "handshake failed: received alert bad_certificate", "alert" }, pair.errors.client)
  end)

  it("refuses a client certificate without clientAuth in its extendedKeyUsage", function()
    local p, err, code, _, pair = wolfssl.pair(
      client_ctx(false, { certificate = certs.path("ec.pem"), key = certs.path("ec.key") }),
      server_ctx("required"), { server_name = "localhost" })
    assert.is_nil(p)
    assert.equal("verify_failed", code)
    assert.equal("certificate verify failed: unsupported certificate purpose: extendedKeyUsage lacks clientAuth "
      .. "(check_eku = true) (depth 0, CN=localhost) (sent alert bad_certificate)", err)
    assert.matches("received alert bad_certificate", pair.client:read() or select(2, pair.client:read()), 1, true)
  end)

  it("refuses a client certificate from a CA it does not trust", function()
    local stranger, key = certs.other_ca:issue({ subject = "CN=stranger", eku = { "clientAuth" } })
    local p, err, code = wolfssl.pair(client_ctx(false, { certificate = stranger, key = key:pem() }),
      server_ctx("required"), { server_name = "localhost" })
    assert.is_nil(p)
    assert.equal("verify_failed", code)
    assert.equal("certificate verify failed: unable to get local issuer certificate (depth 0, CN=stranger)"
      .. " (sent alert unknown_ca)", err)
  end)

  it("still refuses an untrusted certificate when check_eku = false lets a wrong EKU pass", function()
    -- wolfSSL reports only the EKU failure of such a certificate: the binding checks again
    local p, err, code = wolfssl.pair(
      client_ctx(false, { certificate = certs.path("untrusted.pem"), key = certs.path("untrusted.key") }),
      server_ctx("required", { check_eku = false }), { server_name = "localhost" })
    assert.is_nil(p)
    assert.equal("verify_failed", code)
    assert.matches("^certificate verify failed: unable to get local issuer certificate %(depth 0, CN=localhost%)", err)
  end)

  it("runs the server's on_verify on the client's certificate", function()
    local seen
    local sctx = server_ctx("required", { on_verify = function(_, v)
      seen = v.certificate
      return false, "client not on the list"
    end })
    local p, err = wolfssl.pair(client_ctx(true), sctx, { server_name = "localhost" })
    assert.is_nil(p)
    assert.equal("CN=test client", tostring(seen:subject()))
    assert.matches("rejected by on_verify: client not on the list (depth 0, CN=test client)", err, 1, true)
  end)
end)

describe("a server with verify = 'peer'", function()
  it("lets a client without a certificate in, unverified", function()
    local p = assert(wolfssl.pair(client_ctx(false), server_ctx("peer"), { server_name = "localhost" }))
    assert.is_nil(p.server:peer_certificate())
    assert.is_false(p.server:info().verified)
  end)

  it("verifies a client that has one", function()
    local p = assert(wolfssl.pair(client_ctx(true), server_ctx("peer"), { server_name = "localhost" }))
    assert.is_true(p.server:info().verified)
    assert.equal("CN=test client", tostring(p.server:peer_certificate():subject()))
  end)
end)

describe("TLS 1.3 post-handshake authentication", function()
  it("asks a connected client for its certificate with conn:request_certificate()", function()
    local p = assert(wolfssl.pair(client_ctx(true), server_ctx("none"), { server_name = "localhost" }))
    assert.is_nil(p.server:peer_certificate())
    assert.is_true(p.server:request_certificate())
    p:flush()
    -- the client answers inside its read; the server verifies inside its read
    assert.equal("wantread", select(3, p.client:read()))
    p:flush()
    assert.equal("wantread", select(3, p.server:read()))
    assert.equal("CN=test client", tostring(p.server:peer_certificate():subject()))
    assert.is_true(p.server:info().verified)
    assert.equal("after", p:transfer("client", "after"))
  end)

  it("sends the request at once, so a memory transport can take() it", function()
    local p = assert(wolfssl.pair(client_ctx(true), server_ctx("none"), { server_name = "localhost" }))
    assert.is_true(p.server:request_certificate())
    assert.is_true(p.server:pending() > 0)
  end)

  it("verifies the late certificate like any other", function()
    local stranger, key = certs.other_ca:issue({ subject = "CN=stranger", eku = { "clientAuth" } })
    local p = assert(wolfssl.pair(client_ctx(false, { certificate = stranger, key = key:pem() }),
      server_ctx("none"), { server_name = "localhost" }))
    assert.is_true(p.server:request_certificate())
    p:flush()
    p.client:read()
    p:flush()
    local data, err, code = p.server:read()
    assert.is_nil(data)
    assert.equal("verify_failed", code)
    assert.matches("unable to get local issuer certificate (depth 0, CN=stranger)", err, 1, true)
  end)

  it("explains when the client did not offer it, and on TLS 1.2", function()
    local p = assert(wolfssl.pair(client_ctx(false), server_ctx("none"), { server_name = "localhost" }))
    assert.same({ nil, "cannot request a certificate: the client did not offer post-handshake authentication"
      .. " (TLS 1.3 only)", "handshake_failed" }, { p.server:request_certificate() })
    local p12 = assert(wolfssl.pair(client_ctx(true, { max_version = "tls1.2" }), server_ctx("none"), { server_name = "localhost" }))
    local ok, _, code = p12.server:request_certificate()
    assert.is_nil(ok)
    assert.equal("handshake_failed", code)
    assert.has_error(function() p.client:request_certificate() end, "request_certificate is for server connections")
  end)

  it("is offered by a client with a certificate unless post_handshake_auth = false", function()
    local p = assert(wolfssl.pair(client_ctx(true, { post_handshake_auth = false }), server_ctx("none"),
      { server_name = "localhost" }))
    assert.is_nil((p.server:request_certificate()))
    assert.has_error(function() wolfssl.context({ role = "server", post_handshake_auth = true }) end,
      "option 'post_handshake_auth' is for client contexts (servers call conn:request_certificate())")
    assert.same({ nil, "post_handshake_auth needs TLS 1.3 (max_version)" },
      { wolfssl.context({ role = "client", post_handshake_auth = true, max_version = "tls1.2" }) })
  end)
end)

describe("mutual TLS against openssl", function()
  local proc
  after_each(function() peer.stop(proc) end)

  it("serves openssl s_client presenting its certificate (verify = 'required')", function()
    local listener, port = peer.listen()
    proc = peer.s_client(port, { input = "from s_client\n",
      args = ("-CAfile %s -cert %s -key %s -servername localhost -ign_eof"):format(
        q(certs.path("ca.pem")), q(certs.path("client.pem")), q(certs.path("client.key"))) })
    listener:settimeout(5)
    local sock = assert(listener:accept())
    listener:close()
    finally(function() sock:close() end)
    local conn = assert(server_ctx("required"):connection({ fd = sock:getfd() }))
    conn:settimeout(5)
    assert.is_true(conn:handshake())
    local line = ""
    repeat line = line .. assert(conn:read()) until line:find("\n")
    assert.equal("from s_client\n", line)
    assert.equal("CN=test client", tostring(conn:peer_certificate():subject()))
    assert.is_true(conn:info().verified)
    conn:shutdown()
    conn:close()
  end)

  it("asks openssl s_client for its certificate after the handshake", function()
    local listener, port = peer.listen()
    proc = peer.s_client(port, { input = "first line\n",
      args = ("-CAfile %s -cert %s -key %s -servername localhost -enable_pha -ign_eof"):format(
        q(certs.path("ca.pem")), q(certs.path("client.pem")), q(certs.path("client.key"))) })
    listener:settimeout(5)
    local sock = assert(listener:accept())
    listener:close()
    finally(function() sock:close() end)
    local conn = assert(server_ctx("none"):connection({ fd = sock:getfd() }))
    conn:settimeout(5)
    assert.is_true(conn:handshake())
    local line = ""
    repeat line = line .. assert(conn:read()) until line:find("\n")
    assert.is_nil(conn:peer_certificate())
    assert.is_true(conn:request_certificate())
    -- s_client answers the request; the server's next read takes the certificate in
    conn:settimeout(0.5)
    local deadline = socket.gettime() + 5
    while not conn:peer_certificate() and socket.gettime() < deadline do
      local _, _, code = conn:read()
      assert.is_truthy(code == "timeout" or code == "wantread" or code == nil, code)
    end
    assert.equal("CN=test client", tostring(conn:peer_certificate():subject()))
    assert.is_true(conn:info().verified)
    conn:close()
  end)

  it("presents a client certificate to openssl s_server -Verify", function()
    proc = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"),
      args = "-rev -Verify 1 -CAfile " .. q(certs.path("ca.pem")) })
    local sock = assert(socket.connect("127.0.0.1", proc.port))
    finally(function() sock:close() end)
    local conn = assert(client_ctx(true):connection({ server_name = "localhost", fd = sock:getfd() }))
    conn:settimeout(5)
    assert.is_true(conn:handshake())
    conn:write("mtls\n")
    local got = ""
    repeat got = got .. assert(conn:read()) until got:find("\n")
    assert.equal("sltm\n", got)
    conn:close()
    peer.wait(proc, 0.5)
    assert.matches("depth=0 CN = test client", peer.output(proc), 1, true)
  end)
end)
