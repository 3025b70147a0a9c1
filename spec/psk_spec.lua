-- Pre-shared keys instead of certificates, TLS 1.2 and 1.3: the client names an identity,
-- the server looks its key up (on_psk). A server that does not know the identity, or a
-- client with the wrong key, fails with an alert on both sides: never a client left
-- waiting (wolfssl-notes.md item 9a).
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"
local contexts = require "spec.helpers.ctx"

local KEY = ("k"):rep(32)
local KEYS = { alice = KEY, bob = ("b"):rep(48) }

local function server_ctx(extra)
  local calls = { n = 0 }
  local o = { role = "server", on_psk = function(conn, identity)
    calls.n = calls.n + 1
    calls.last = identity
    return KEYS[identity]
  end }
  for k, v in pairs(extra or {}) do o[k] = v end
  return assert(wolfssl.context(o)), calls
end

local client_ctx = contexts.localhost_client

for _, version in ipairs({ "tls1.2", "tls1.3" }) do
  describe(version .. " PSK", function()
    local V = { max_version = version }

    it("connects a client and a server that share a key, without certificates", function()
      local sctx, calls = server_ctx(V)
      local p = assert(wolfssl.pair(client_ctx({ max_version = version, psk = { identity = "alice", key = KEY } }), sctx))
      assert.equal(version == "tls1.3" and "TLSv1.3" or "TLSv1.2", p.client:info().version)
      assert.equal("alice", p.server:psk_identity())
      assert.equal("alice", p.client:psk_identity())
      assert.is_nil(p.client:peer_certificate())
      assert.equal("secret stuff", p:transfer("client", "secret stuff"))
      assert.equal(1, calls.n) -- wolfSSL asks several times; Lua is asked once
      if version == "tls1.2" then
        assert.equal("TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", p.client:info().cipher)
      end
    end)

    it("takes the identity and key from a client function, once per handshake", function()
      local asked = {}
      local cctx = client_ctx({ max_version = version, psk = function(conn, hint)
        asked[#asked + 1] = { conn:role(), hint }
        return "bob", KEYS.bob
      end })
      local sctx = server_ctx({ max_version = version, psk_hint = "our shop" })
      local p = assert(wolfssl.pair(cctx, sctx))
      assert.equal("bob", p.server:psk_identity())
      -- the hint exists only in TLS 1.2 (RFC 4279); TLS 1.3 has none
      assert.same({ { "client", version == "tls1.2" and "our shop" or nil } }, asked)
    end)

    it("refuses an unknown identity with alert unknown_psk_identity, on both sides", function()
      local sctx, calls = server_ctx(V)
      local p, err, code, side, pair = wolfssl.pair(client_ctx({ max_version = version,
        psk = { identity = "mallory", key = KEY } }), sctx)
      assert.is_nil(p)
      assert.equal("server", side)
      assert.equal("handshake_failed", code)
      assert.equal("handshake failed: unknown PSK identity 'mallory' (sent alert unknown_psk_identity)", err)
      assert.same({ "handshake failed: received alert unknown_psk_identity", "alert" }, pair.errors.client)
      assert.equal(1, calls.n)
    end)

    it("fails a client with the wrong key with an alert, not silence", function()
      local sctx = server_ctx(V)
      local p, _, _, _, pair = wolfssl.pair(client_ctx({ max_version = version,
        psk = { identity = "alice", key = ("x"):rep(32) } }), sctx)
      assert.is_nil(p)
      local cerr, ccode = pair.errors.client[1], pair.errors.client[2]
      assert.equal("alert", ccode, cerr)
      if version == "tls1.3" then
        assert.same({ "handshake failed: received alert decrypt_error", "alert" }, pair.errors.client)
        assert.equal("handshake failed: the client's PSK does not match (binder does not verify) "
          .. "(sent alert decrypt_error)", pair.errors.server[1])
      end
    end)

    for _, case in ipairs({
      { "server", "throws", function() error("key store offline") end, "key store offline" },
      { "server", "returns a number", function() return 7 end, "must return the key %(a string%) or nil" },
      { "client", "throws", function() error("no identity") end, "no identity" },
      { "client", "returns only an identity", function() return "alice" end, "must return an identity and a key" },
    }) do
      it("fails as a callback error when the " .. case[1] .. "'s on_psk " .. case[2], function()
        local sctx = case[1] == "server" and server_ctx({ max_version = version, on_psk = case[3] }) or server_ctx(V)
        local psk = case[1] == "client" and case[3] or { identity = "alice", key = KEY }
        local p, err, code, side = wolfssl.pair(client_ctx({ max_version = version, psk = psk }), sctx)
        assert.is_nil(p)
        assert.equal(case[1], side)
        assert.equal("callback", code)
        assert.matches("^callback error: .*" .. case[4], err)
      end)
    end
  end)
end

describe("a TLS 1.3 PSK server that also has a certificate", function()
  it("falls back to the certificate for an identity it does not know", function()
    local sctx = server_ctx({ certificate = certs.path("ec.pem"), key = certs.path("ec.key") })
    local p = assert(wolfssl.pair(client_ctx({ psk = { identity = "mallory", key = KEY } }), sctx))
    assert.is_true(p.client:info().verified)
    assert.equal("CN=localhost", tostring(p.client:peer_certificate():subject()))
  end)
end)

describe("PSK options", function()
  it("are checked", function()
    assert.has_error(function() client_ctx({ psk = "alice" }) end)
    assert.has_error(function() client_ctx({ psk = { identity = "", key = KEY } }) end)
    assert.has_error(function() wolfssl.context({ role = "server", psk = { identity = "a", key = KEY } }) end,
      "option 'psk' is for client contexts (a server uses on_psk)")
    assert.has_error(function() client_ctx({ psk_hint = "x" }) end, "option 'psk_hint' is for server contexts")
  end)
end)
