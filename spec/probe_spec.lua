-- A script crafts ClientHellos (trace.client_hello + trace.encode) and learns what a
-- server accepts without completing a handshake: examples/probe.lua against openssl
-- s_server configured with known versions, suites and groups.
local wolfssl = require "wolfssl"
local trace = require "wolfssl.trace"
local certs = require "spec.helpers.certs"
local peer = require "spec.helpers.peer"

local LUA = os.getenv("LW_LUA") or "lua5.4"

local function probe(port)
  local proc = peer.spawn(("%s examples/probe.lua 127.0.0.1 %d --servername localhost"):format(LUA, port), { lua = true })
  local finished = peer.wait(proc, 60)
  peer.stop(proc)
  local out = peer.output(proc)
  assert.is_true(finished, out)
  local lines = {}
  for l in out:gmatch("[^\n]+") do
    if l:match("^suite ") or l:match("^group ") or l:match("^version ") then lines[#lines + 1] = l end
  end
  table.sort(lines)
  return lines, out
end

describe("examples/probe.lua", function()
  local server
  after_each(function() peer.stop(server) end)

  it("finds the versions, suites and groups of a TLS 1.2 + 1.3 server", function()
    server = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"),
      args = "-rev -ciphersuites TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
        .. " -cipher ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305 -groups P-384:X25519" })
    local lines, out = probe(server.port)
    assert.same({
      "group TLSv1.2 secp384r1", "group TLSv1.2 x25519",
      "group TLSv1.3 secp384r1", "group TLSv1.3 x25519",
      "suite TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
      "suite TLSv1.2 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
      "suite TLSv1.3 TLS_AES_256_GCM_SHA384", "suite TLSv1.3 TLS_CHACHA20_POLY1305_SHA256",
      "version TLSv1.2 accepted", "version TLSv1.3 accepted",
    }, lines, out)
  end)

  it("reports a TLS 1.2-only server's refusal of TLS 1.3 and its single suite and group", function()
    server = peer.s_server({ cert = certs.path("rsa.pem"), key = certs.path("rsa.key"),
      args = "-rev -no_tls1_3 -cipher ECDHE-RSA-AES256-GCM-SHA384 -groups P-256" })
    local lines, out = probe(server.port)
    assert.same({
      "group TLSv1.2 secp256r1",
      "suite TLSv1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
      "version TLSv1.2 accepted", "version TLSv1.3 rejected (alert protocol_version)",
    }, lines, out)
  end)
end)

describe("a crafted ClientHello", function()
  it("reaches a lua-wolfssl server decoded as it was built, and gets a ServerHello", function()
    local seen
    local sctx = assert(wolfssl.context({ role = "server", certificate = certs.path("ec.pem"), key = certs.path("ec.key"),
      on_client_hello = function(_, hello) seen = hello end }))
    local t = trace.client_hello({ server_name = "crafted.test", alpn = { "x-probe" }, versions = { "TLSv1.3" },
      cipher_suites = { "TLS_CHACHA20_POLY1305_SHA256" } })
    local s = sctx:connection()
    s:feed(trace.record("handshake", assert(trace.encode(t))))
    assert.equal("wantread", select(3, s:handshake()))
    assert.equal("crafted.test", seen.server_name)
    assert.same({ "x-probe" }, seen.alpn)
    assert.same({ "TLSv1.3" }, seen.versions)
    assert.equal(t.random, seen.random)
    local answer = trace.records(s:take())
    local sh = assert(trace.decode(answer[1].bytes))
    assert.equal("server_hello", sh.type)
    assert.equal("TLS_CHACHA20_POLY1305_SHA256", sh.cipher_suite)
    assert.equal("x25519", sh.extensions.key_share.group)
    assert.equal(t.session_id, sh.session_id) -- echoed (RFC 8446 4.1.3)
  end)

  it("without a key share makes a TLS 1.3 server ask for one (HelloRetryRequest)", function()
    local s = assert(wolfssl.context({ role = "server", certificate = certs.path("ec.pem"), key = certs.path("ec.key"),
      groups = { "P-384" } })):connection()
    s:feed(trace.record("handshake", assert(trace.encode(trace.client_hello({
      versions = { "TLSv1.3" }, groups = { "secp384r1" }, key_shares = {} })))))
    s:handshake()
    local hrr = assert(trace.decode(trace.records(s:take())[1].bytes))
    assert.equal("hello_retry_request", hrr.type)
    assert.equal("secp384r1", hrr.extensions.key_share.selected_group)
  end)

  it("refuses to make up a key share it cannot", function()
    assert.has_error(function() trace.client_hello({ key_shares = { "secp256r1" } }) end,
      "cannot make up a key share for 'secp256r1' (only x25519, x448)")
  end)
end)
