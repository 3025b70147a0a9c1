-- A client and a server agree on TLS in memory, move data both ways, and close.
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"
local contexts = require "spec.helpers.ctx"

local function server_ctx(kind, extra) return contexts.server(extra, kind) end

local client_ctx = contexts.client

describe("an in-memory handshake", function()
  for _, version in ipairs({ "tls1.2", "tls1.3" }) do
    for _, kind in ipairs({ "ec", "rsa" }) do
      it(("agrees on %s with an %s certificate and reports it in info()"):format(version, kind), function()
        local p = assert(wolfssl.pair(client_ctx({ max_version = version }), server_ctx(kind),
          { server_name = "localhost" }))
        local ci, si = p.client:info(), p.server:info()
        assert.equal(version == "tls1.3" and "TLSv1.3" or "TLSv1.2", ci.version)
        assert.equal(ci.version, si.version)
        assert.equal(ci.cipher, si.cipher)
        assert.equal("x25519", ci.group)
        assert.is_true(ci.verified)
        assert.is_nil(ci.verify_error)
        assert.is_false(ci.resumed)
        assert.equal("localhost", ci.server_name)
        assert.equal("localhost", si.server_name)
        -- the server's order decides: ChaCha20 first in this AES-NI-less build (init.lua)
        if version == "tls1.3" then
          assert.equal("TLS_CHACHA20_POLY1305_SHA256", ci.cipher)
        else
          assert.equal(kind == "ec" and "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
            or "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", ci.cipher)
        end
        local cert = p.client:peer_certificate()
        assert.equal("CN=localhost", tostring(cert:subject()))
        -- RFC 4514 order, as `openssl x509 -nameopt RFC2253` prints it
        assert.equal("O=lua-wolfssl tests,CN=lua-wolfssl Test CA", tostring(cert:issuer()))
        assert.matches("^%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-", cert:pem())
        assert.equal(certs.read(kind .. ".pem"), cert:pem())
      end)
    end
  end

  it("uses the client's first group for the TLS 1.3 key share", function()
    local p = assert(wolfssl.pair(client_ctx({ groups = { "P-384", "X25519" } }), server_ctx("ec"),
      { server_name = "localhost" }))
    assert.equal("secp384r1", p.client:info().group)
  end)

  it("negotiates the ALPN protocol the client offers", function()
    -- the server side of ALPN selection is the sessions issue; a client offer alone
    -- must not break the handshake
    local p = assert(wolfssl.pair(client_ctx({ alpn = { "h2", "http/1.1" } }), server_ctx("ec"),
      { server_name = "localhost" }))
    assert.is_true(p.client:info().verified)
  end)

  it("refuses to agree when the versions do not overlap", function()
    local p, err, code = wolfssl.pair(client_ctx({ min_version = "tls1.3" }),
      server_ctx("ec", { max_version = "tls1.2" }), { server_name = "localhost" })
    assert.is_nil(p)
    assert.is_string(err)
    assert.is_truthy(code == "handshake_failed" or code == "alert")
  end)
end)

describe("data over an in-memory connection", function()
  local p
  before_each(function()
    p = assert(wolfssl.pair(client_ctx(), server_ctx("ec"), { server_name = "localhost" }))
  end)

  it("arrives intact in both directions", function()
    assert.equal("ping", p:transfer("client", "ping"))
    assert.equal("pong", p:transfer("server", "pong"))
  end)

  it("carries 1 MiB each way byte for byte", function()
    local blob = {}
    for i = 1, 4096 do blob[i] = string.char(i % 256):rep(256) end
    blob = table.concat(blob)
    assert.equal(1024 * 1024, #blob)
    assert.equal(blob, p:transfer("client", blob))
    assert.equal(blob, p:transfer("server", blob))
  end)

  it("survives its input fed one byte at a time", function()
    local c = client_ctx():connection({ server_name = "localhost" })
    local s = server_ctx("ec"):connection()
    local done = {}
    for _ = 1, 20000 do
      for _, pair in ipairs({ { c, s, "c" }, { s, c, "s" } }) do
        local me, other, name = pair[1], pair[2], pair[3]
        if not done[name] then
          local ok, err, code = me:handshake()
          if ok then done[name] = true else assert.equal("wantread", code, err) end
        end
        local out = me:take(1) -- one byte per step, in both directions
        if #out > 0 then other:feed(out) end
      end
      if done.c and done.s and select(1, c:pending()) == 0 and select(1, s:pending()) == 0 then break end
    end
    assert.is_true(done.c and done.s)
    c:write("byte by byte")
    local out = c:take()
    for i = 1, #out do s:feed(out:sub(i, i)) end
    local got = {}
    while true do
      local d = s:read()
      if not d then break end
      got[#got + 1] = d
    end
    assert.equal("byte by byte", table.concat(got))
  end)

  it("reports pending output and buffered plaintext", function()
    p.client:write("abc")
    local out_bytes = p.client:pending()
    assert.is_true(out_bytes > 3) -- a record: header, ciphertext, tag
    p:flush()
    assert.equal("a", p.server:read(1))
    local _, readable = p.server:pending()
    assert.equal(2, readable)
    assert.equal("bc", p.server:read())
  end)

  it("returns wantread when nothing has arrived", function()
    local data, err, code = p.server:read()
    assert.is_nil(data)
    assert.equal("wantread", err)
    assert.equal("wantread", code)
  end)
end)

describe("closing a connection", function()
  for _, first in ipairs({ "client", "server" }) do
    it("sends close_notify from the " .. first .. " and the peer reads 'closed'", function()
      local p = assert(wolfssl.pair(client_ctx(), server_ctx("ec"), { server_name = "localhost" }))
      local a, b = p[first], p[first == "client" and "server" or "client"]
      assert.equal("last words", p:transfer(first, "last words"))
      local ok, state = a:shutdown()
      assert.is_true(ok)
      assert.equal("sent", state)
      p:flush()
      local data, err, code = b:read()
      assert.is_nil(data)
      assert.equal("closed", code, err)
      ok, state = b:shutdown()
      assert.is_true(ok)
      assert.equal("complete", state)
      p:flush()
      assert.equal("closed", select(3, a:read()))
      ok, state = a:shutdown()
      assert.is_true(ok)
      assert.equal("complete", state)
    end)
  end

  it("makes later calls return 'closed' and close() idempotent", function()
    local p = assert(wolfssl.pair(client_ctx(), server_ctx("ec"), { server_name = "localhost" }))
    assert.is_true(p.client:close())
    assert.is_true(p.client:close())
    assert.is_true(p.client:is_closed())
    for _, op in ipairs({ "handshake", "read", "take", "shutdown" }) do
      local r, err, code = p.client[op](p.client)
      assert.is_nil(r)
      assert.equal("connection is closed", err)
      assert.equal("closed", code)
    end
    assert.equal("closed", select(3, p.client:write("x")))
    assert.equal("closed", select(3, p.client:feed("x")))
    assert.has_error(function() p.client:info() end, "attempt to use a closed connection")
  end)
end)

describe("a server connection's own certificate", function()
  it("can switch to another context before the handshake (use_context)", function()
    local plain = server_ctx("ec")
    local other = server_ctx("rsa")
    local c = client_ctx():connection({ server_name = "localhost" })
    local s = plain:connection()
    assert.is_true(s:use_context(other))
    local p = setmetatable({ client = c, server = s }, require("wolfssl.pair").Pair)
    assert.is_true(p:handshake())
    assert.equal(certs.read("rsa.pem"), c:peer_certificate():pem())
    assert.has_error(function() s:use_context(client_ctx()) end)
  end)

  it("can be set per connection (use_certificate), checked against its key", function()
    local c = client_ctx():connection({ server_name = "localhost" })
    local s = server_ctx("ec"):connection()
    assert.is_true(s:use_certificate(certs.path("rsa.pem"), certs.path("rsa.key")))
    local p = setmetatable({ client = c, server = s }, require("wolfssl.pair").Pair)
    assert.is_true(p:handshake())
    assert.equal(certs.read("rsa.pem"), c:peer_certificate():pem())

    local s2 = server_ctx("ec"):connection()
    assert.same({ nil, "private key does not match the certificate" },
      { s2:use_certificate(certs.path("rsa.pem"), certs.path("ec.key")) })
    assert.same({ nil, "private key does not match the certificate" },
      { s2:use_certificate(certs.path("ec.pem"), certs.path("ca.key")) })
    assert.truthy(s2:use_certificate(certs.read("ec.pem"), certs.path("ec-enc.key"), certs.password))
  end)
end)
