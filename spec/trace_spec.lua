-- A script sees every message of a handshake, on both sides, decoded: the plaintext
-- ones and the encrypted ones, which the binding opens with the connection's keys.
local wolfssl = require "wolfssl"
local trace = require "wolfssl.trace"
local certs = require "spec.helpers.certs"
local contexts = require "spec.helpers.ctx"
local Pair = require("wolfssl.pair").Pair

local client_ctx = contexts.client

local server_ctx = contexts.server

-- Two traced connections; handshake, then the client reads once (a TLS 1.3 client only
-- processes the NewSessionTicket when it reads).
local function traced(cctx, sctx, opts)
  opts = opts or {}
  local c = cctx:connection({ server_name = "localhost",
    session = opts.session_from and assert(opts.session_from:session()) })
  local s = sctx:connection()
  if opts.server_alpn then s:set_alpn(opts.server_alpn) end
  local cev, sev = trace.attach(c), trace.attach(s)
  local p = setmetatable({ client = c, server = s }, Pair)
  local ok, err = p:handshake()
  assert.is_true(ok, err)
  assert.equal("wantread", select(3, c:read()))
  p:flush()
  return p, cev, sev
end

-- "sent client_hello", ... for the handshake messages and CCS records of one side
local function flow(events)
  local out = {}
  for _, m in ipairs(events) do
    if m.content_type == 22 or m.content_type == 20 then out[#out + 1] = m.direction .. " " .. m.type end
  end
  return out
end

local function mirror(list)
  local out = {}
  for i, s in ipairs(list) do
    out[i] = s:gsub("^sent", "X"):gsub("^received", "sent"):gsub("^X", "received")
  end
  return out
end

local function find(events, direction, type_)
  for _, m in ipairs(events) do
    if m.direction == direction and m.type == type_ then return m end
  end
end

local function decoded(events, direction, type_)
  local m = find(events, direction, type_)
  assert.is_table(m, "no " .. direction .. " " .. type_)
  return assert(trace.decode(m))
end

-- every message after the first ServerHello travels protected except CCS; all opened
local function assert_all_opened(events)
  local seen_sh = false
  for _, m in ipairs(events) do
    assert.is_false(m.encrypted, m.direction .. " " .. m.type .. " was not opened")
    assert.is_nil(m.error)
    if m.type == "server_hello" then seen_sh = true
    elseif seen_sh and m.version == "TLSv1.3" and m.type ~= "change_cipher_spec" then
      assert.is_true(m.protected, m.type .. " should have been protected")
      assert.is_string(m.type == "application_data" and "" or m.bytes)
    end
  end
end

local KINDS = {
  {
    name = "TLS 1.2 full handshake",
    make = function() return client_ctx({ max_version = "tls1.2" }), server_ctx() end,
    -- a TLS 1.2 client asks for a ticket (RFC 5077): it comes before the server's CCS
    client = { "sent client_hello", "received server_hello", "received certificate",
      "received server_key_exchange", "received server_hello_done", "sent client_key_exchange",
      "sent change_cipher_spec", "sent finished", "received new_session_ticket",
      "received change_cipher_spec", "received finished" },
  },
  {
    name = "TLS 1.2 resumed handshake",
    make = function() return client_ctx({ max_version = "tls1.2" }), server_ctx() end,
    resume = true,
    client = { "sent client_hello", "received server_hello", "received change_cipher_spec",
      "received finished", "sent change_cipher_spec", "sent finished" },
  },
  {
    name = "TLS 1.3 full handshake",
    make = function() return client_ctx(), server_ctx() end,
    client = { "sent client_hello", "received server_hello", "received encrypted_extensions",
      "received certificate", "received certificate_verify", "received finished", "sent finished",
      "received new_session_ticket" },
  },
  {
    name = "TLS 1.3 handshake with a client certificate",
    make = function()
      return client_ctx({ certificate = certs.path("client.pem"), key = certs.path("client.key") }),
        server_ctx({ verify = "required", ca = certs.path("ca.pem") })
    end,
    client = { "sent client_hello", "received server_hello", "received encrypted_extensions",
      "received certificate_request", "received certificate", "received certificate_verify",
      "received finished", "sent certificate", "sent certificate_verify", "sent finished",
      "received new_session_ticket" },
  },
  {
    name = "TLS 1.3 resumed handshake",
    make = function() return client_ctx(), server_ctx() end,
    resume = true,
    client = { "sent client_hello", "received server_hello", "received encrypted_extensions",
      "received finished", "sent finished", "received new_session_ticket" },
  },
  {
    name = "TLS 1.3 HelloRetryRequest (the server does not pick the client's key share)",
    make = function() return client_ctx({ groups = { "X25519", "P-256" } }), server_ctx({ groups = { "P-256" } }) end,
    client = { "sent client_hello", "received hello_retry_request", "sent client_hello",
      "received server_hello", "received encrypted_extensions", "received certificate",
      "received certificate_verify", "received finished", "sent finished", "received new_session_ticket" },
  },
}

describe("the trace of a handshake", function()
  for _, kind in ipairs(KINDS) do
    it(("lists every message of a %s on both sides, each one opened"):format(kind.name), function()
      local cctx, sctx = kind.make()
      local first
      if kind.resume then first = traced(cctx, sctx) end
      local p, cev, sev = traced(cctx, sctx, { session_from = first and first.client })
      assert.same(kind.client, flow(cev))
      assert.same(mirror(kind.client), flow(sev))
      assert_all_opened(cev)
      assert_all_opened(sev)
      assert.equal(kind.resume == true, p.client:info().resumed)
      assert.equal(kind.resume == true, p.server:info().resumed)
      -- both sides saw the same bytes of every message
      local sent_by_server = {}
      for _, m in ipairs(sev) do if m.direction == "sent" and m.bytes then sent_by_server[#sent_by_server + 1] = m.bytes end end
      local got_by_client = {}
      for _, m in ipairs(cev) do if m.direction == "received" and m.bytes then got_by_client[#got_by_client + 1] = m.bytes end end
      assert.same(sent_by_server, got_by_client)
    end)
  end

  it("reports the events' fields: direction, role, content type, version, length", function()
    local _, cev = traced(client_ctx(), server_ctx())
    local ch, sh, fin = cev[1], find(cev, "received", "server_hello"), find(cev, "sent", "finished")
    assert.same({ "sent", "client", 22, 1, false, false }, { ch.direction, ch.role, ch.content_type,
      ch.handshake_type, ch.protected, ch.encrypted })
    assert.is_nil(ch.version) -- not negotiated yet
    assert.equal(#ch.bytes - 4, ch.length)
    assert.equal("TLSv1.3", sh.version)
    assert.equal(0x0303, sh.record_version)
    assert.same({ 22, 20, 32, true, false }, { fin.content_type, fin.handshake_type, fin.length, fin.protected, fin.encrypted })
  end)

  it("reports application data by length only, and alerts by level and name", function()
    local p, cev, sev = traced(client_ctx(), server_ctx())
    assert.equal("hello", p:transfer("client", "hello"))
    p.client:shutdown()
    p:flush()
    assert.equal("closed", select(3, p.server:read()))
    local data = find(sev, "received", "application_data")
    assert.equal(5, data.length)
    assert.is_nil(data.bytes)
    assert.is_true(data.protected)
    local alert = find(sev, "received", "alert")
    assert.same({ "warning", "close_notify", 0 }, { alert.level, alert.description, alert.alert })
    assert.same({ type = "alert", level = "warning", description = "close_notify", alert = 0 }, trace.decode(alert))
    assert.is_table(find(cev, "sent", "alert"))
  end)

  for _, version in ipairs({ "tls1.2", "tls1.3" }) do
    it("decodes fields that agree with info() (" .. version .. ")", function()
      local p, cev, sev = traced(client_ctx({ max_version = version, alpn = { "h2", "http/1.1" } }), server_ctx(),
        { server_alpn = "http/1.1" })
      local ci, si = p.client:info(), p.server:info()
      local ch = decoded(sev, "received", "client_hello")
      local sh = decoded(cev, "received", "server_hello")
      assert.equal(ci.cipher, sh.cipher_suite)
      assert.equal(si.cipher, sh.cipher_suite)
      assert.equal(ci.version, sh.version)
      assert.equal("localhost", ch.server_name)
      assert.equal(si.server_name, ch.server_name)
      assert.same({ "h2", "http/1.1" }, ch.alpn)
      assert.equal("http/1.1", ci.alpn)
      assert.equal(si.alpn, ci.alpn)
      if version == "tls1.3" then
        assert.equal(ci.group, sh.extensions.key_share.group)
        assert.same({ "http/1.1" }, decoded(cev, "received", "encrypted_extensions").extensions.alpn)
        assert.same({ "TLSv1.3", "TLSv1.2" }, ch.versions)
      else
        assert.equal(ci.group, decoded(cev, "received", "server_key_exchange").named_curve)
        assert.same({ "http/1.1" }, sh.extensions.alpn)
      end
      local cert = decoded(cev, "received", "certificate").certificate_list[1]
      local peer = p.client:peer_certificate()
      assert.equal(peer:der(), cert.cert_data)
      assert.equal(tostring(peer:subject()), tostring(cert.certificate:subject()))
      assert.equal("CN=localhost", tostring(cert.certificate:subject()))
    end)
  end

  it("shows the HelloRetryRequest's group, as info() reports it", function()
    local p, cev = traced(client_ctx({ groups = { "X25519", "P-256" } }), server_ctx({ groups = { "P-256" } }))
    local hrr = decoded(cev, "received", "hello_retry_request")
    assert.equal("secp256r1", hrr.extensions.key_share.selected_group)
    assert.equal(trace.HRR_RANDOM, hrr.random)
    assert.equal(p.client:info().group, hrr.extensions.key_share.selected_group)
    local second = {}
    for _, m in ipairs(cev) do if m.type == "client_hello" then second[#second + 1] = assert(trace.decode(m)) end end
    assert.equal("x25519", second[1].extensions.key_share[1].group)
    assert.equal("secp256r1", second[2].extensions.key_share[1].group)
  end)

  it("costs nothing and reports nothing for a connection without on_message", function()
    local called = 0
    local c = client_ctx():connection({ server_name = "localhost" })
    local s = server_ctx():connection()
    local p = setmetatable({ client = c, server = s }, Pair)
    assert.is_true(p:handshake())
    -- set after the first driving call: the decision is made when the handshake starts
    c:set_handler("on_message", function() called = called + 1 end)
    assert.equal("abc", p:transfer("server", "abc"))
    assert.equal(0, called)
  end)

  it("traces the fd transport too", function()
    local socket = require "socket"
    local listener, port = assert(socket.bind("127.0.0.1", 0)), nil
    port = select(2, listener:getsockname())
    local a = assert(socket.connect("127.0.0.1", port))
    local b = assert(listener:accept())
    listener:close()
    finally(function() a:close(); b:close() end)
    local c = assert(client_ctx():connection({ server_name = "localhost", fd = a:getfd() }))
    local s = assert(server_ctx():connection({ fd = b:getfd() }))
    c:settimeout(0)
    s:settimeout(0)
    local cev, sev = trace.attach(c), trace.attach(s)
    local done = {}
    for _ = 1, 200 do
      for side, conn in pairs({ client = c, server = s }) do
        if not done[side] then
          local ok, err, code = conn:handshake()
          if ok then done[side] = true else assert.equal("wantread", code, err) end
        end
      end
      if done.client and done.server then break end
      socket.sleep(0.005)
    end
    assert.is_true(done.client and done.server)
    assert.equal(3, s:write("abc"))
    local got
    for _ = 1, 200 do got = c:read(); if got then break end; socket.sleep(0.005) end
    assert.equal("abc", got)
    assert.same(KINDS[3].client, flow(cev))
    assert.same(mirror(KINDS[3].client), flow(sev))
    assert_all_opened(cev)
    assert_all_opened(sev)
  end)
end)

describe("the trace of application data", function()
  for _, suite in ipairs({ "TLS13-AES128-GCM-SHA256", "TLS13-AES256-GCM-SHA384", "TLS13-CHACHA20-POLY1305-SHA256",
    "TLS13-AES128-CCM-SHA256", "TLS13-AES128-CCM-8-SHA256" }) do
    it("reports the exact length of every record, short and long (" .. suite .. ")", function()
      -- a certificate chain longer than one peek: the Certificate record is opened in full
      local sctx = server_ctx({ certificate = { certs.path("rsa.pem"), certs.path("ca.pem") },
        key = certs.path("rsa.key"), ciphers = suite })
      local p, cev, sev = traced(client_ctx({ ciphers = suite }), sctx)
      local chain = decoded(cev, "received", "certificate").certificate_list
      assert.equal(2, #chain)
      assert.equal(certs.read("ca.pem"), chain[2].certificate:pem())
      local sizes = { 1, 1000, 1023, 1024, 1025, 4096, 16384, 20000 }
      for _, n in ipairs(sizes) do assert.equal(n, #p:transfer("client", ("z"):rep(n))) end
      local sent, got = {}, {}
      for _, m in ipairs(cev) do if m.type == "application_data" then sent[#sent + 1] = m.length end end
      for _, m in ipairs(sev) do if m.type == "application_data" then got[#got + 1] = m.length end end
      assert.same({ 1, 1000, 1023, 1024, 1025, 4096, 16384, 16384, 3616 }, sent)
      assert.same(sent, got)
      -- and a handshake message after them is still found and opened
      p.client:shutdown()
      p:flush()
      p.server:read()
      assert.equal("close_notify", cev[#cev].description)
      assert.equal("close_notify", sev[#sev].description)
    end)
  end
end)

describe("the trace of KeyUpdate", function()
  it("opens every KeyUpdate and every record under each new key, on both sides", function()
    local p, cev, sev = traced(client_ctx(), server_ctx())
    for i = 1, 4 do -- more updates than the observer keeps epochs for at once
      local side = i % 2 == 1 and "client" or "server"
      assert.is_true(p[side]:key_update())
      assert.equal("after " .. i, p:transfer(side, "after " .. i))
      assert.equal("back " .. i, p:transfer(side == "client" and "server" or "client", "back " .. i))
    end
    for _, events in ipairs({ cev, sev }) do
      local updates = 0
      for _, m in ipairs(events) do
        assert.is_false(m.encrypted, m.role .. " " .. m.direction .. " " .. m.type)
        if m.type == "key_update" then
          updates = updates + 1
          assert.is_truthy(assert(trace.decode(m)).request_update)
        end
      end
      assert.is_true(updates >= 4, "only " .. updates .. " KeyUpdates seen")
    end
    local lens = {}
    for _, m in ipairs(sev) do if m.type == "application_data" and m.direction == "received" then lens[#lens + 1] = m.length end end
    assert.same({ 7, 6, 7, 6 }, lens) -- "after 1", "back 2", "after 3", "back 4"
  end)
end)

describe("the trace of TLS 1.2 CBC suites", function()
  for _, suite in ipairs({ "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES256-SHA384" }) do
    it("opens the Finished messages, MAC checked, and tells application data lengths (" .. suite .. ")", function()
      local p, cev, sev = traced(client_ctx({ max_version = "tls1.2", ciphers = suite }), server_ctx({ ciphers = suite }))
      assert.matches("_CBC_", p.client:info().cipher)
      assert.same(KINDS[1].client, flow(cev))
      assert_all_opened(cev)
      assert_all_opened(sev)
      assert.equal(12, #decoded(cev, "received", "finished").verify_data)
      assert.equal(decoded(cev, "sent", "finished").verify_data, decoded(sev, "received", "finished").verify_data)
      for _, n in ipairs({ 1, 15, 16, 17, 5000 }) do assert.equal(n, #p:transfer("server", ("y"):rep(n))) end
      local got = {}
      for _, m in ipairs(cev) do if m.type == "application_data" then got[#got + 1] = m.length end end
      assert.same({ 1, 15, 16, 17, 5000 }, got)
    end)
  end
end)

describe("a failing on_message", function()
  it("fails the driving call with code 'callback' and never raises through wolfSSL", function()
    local sctx = server_ctx()
    sctx:on("on_message", function(_, m) if m.type == "finished" then error("boom in trace") end end)
    local p, err, code, side = wolfssl.pair(client_ctx(), sctx, { server_name = "localhost" })
    assert.is_nil(p)
    assert.equal("callback", code)
    assert.equal("server", side)
    assert.matches("callback error: .*boom in trace", err)
  end)
end)

describe("closing a connection from on_message", function()
  for _, when in ipairs({ "server_hello", "certificate", "finished" }) do
    it("is refused as a callback error, and the connection closes afterwards (at " .. when .. ")", function()
      local c = client_ctx():connection({ server_name = "localhost" })
      local after = {}
      c:set_handler("on_message", function(conn, m)
        after[#after + 1] = m.type
        if m.type == when then conn:close() end
      end)
      local p = setmetatable({ client = c, server = server_ctx():connection() }, Pair)
      local ok, err, code = p:handshake()
      assert.is_nil(ok)
      assert.equal("callback", code)
      assert.matches("cannot close a connection from inside its own callback", err, 1, true)
      assert.equal(when, after[#after]) -- nothing reported after the failure
      assert.is_true(c:close())
      assert.is_true(c:is_closed())
    end)
  end
end)

describe("trace.decode and trace.encode", function()
  it("crafts a ClientHello for versions spelled as wolfssl.context spells them, and refuses others", function()
    local hello = assert(trace.decode(assert(trace.encode(trace.client_hello({ versions = { "tls1.3" } })))))
    assert.same({ "TLSv1.3" }, hello.versions)
    assert.is_table(hello.extensions.key_share)
    assert.has_error(function() trace.client_hello({ versions = { "tls13" } }) end,
      "unknown version 'tls13' (\"TLSv1.3\", \"TLSv1.2\", ... or a number)")
  end)

  local function sample_hello()
    return {
      type = "client_hello", handshake_type = 1, legacy_version = 0x0303, random = ("\1"):rep(32),
      session_id = ("\2"):rep(32), compression_methods = { 0 },
      cipher_suites = { 0x0A0A, "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", 0x1234 },
      extensions = {
        { name = "server_name", value = { "example.org" } },
        { name = "supported_versions", value = { 0x3A3A, "TLSv1.3", "TLSv1.2" } },
        { name = "supported_groups", value = { "x25519", "secp256r1", "ffdhe2048" } },
        { name = "key_share", value = { { group = "x25519", key_exchange = ("k"):rep(32) } } },
        { name = "signature_algorithms", value = { "ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256", "ed25519" } },
        { name = "signature_algorithms_cert", value = { "rsa_pkcs1_sha256" } },
        { name = "alpn", value = { "h2", "http/1.1" } },
        { name = "psk_key_exchange_modes", value = { "psk_dhe_ke" } },
        { name = "early_data", value = true },
        { name = "status_request", value = { status_type = "ocsp", responder_id_list = "", request_extensions = "" } },
        { name = "ec_point_formats", value = { "uncompressed" } },
        { name = "session_ticket", value = "" },
        { name = "extended_master_secret", value = true },
        { name = "renegotiation_info", value = "" },
        { name = "record_size_limit", value = 16385 },
        { name = "cookie", value = "cookie-bytes" },
        { type = 0x4242, bytes = "unknown extension data" },
        { name = "padding", value = 7 },
        { name = "pre_shared_key", value = { identities = { { identity = "ticket", obfuscated_ticket_age = 1234 } },
          binders = { ("b"):rep(32) } } },
      },
    }
  end

  it("round-trips a ClientHello with every extension the issue names", function()
    local t = sample_hello()
    local bytes = assert(trace.encode(t))
    local d = assert(trace.decode(bytes))
    assert.equal("client_hello", d.type)
    assert.equal(#bytes - 4, d.length)
    for i, e in ipairs(t.extensions) do
      local got = d.extensions[i]
      assert.equal(e.name or trace.names.extensions[e.type], got.name, "extension " .. i)
      if e.value ~= nil then assert.same(e.value, got.value, e.name) else assert.equal(e.bytes, got.bytes) end
    end
    assert.same(t.cipher_suites, d.cipher_suites)
    assert.equal("example.org", d.server_name)
    assert.equal("example.org", d.extensions.server_name[1])
    assert.same({ type = 0x4242, bytes = "unknown extension data" }, { type = d.extensions[17].type, bytes = d.extensions[17].bytes })
    assert.is_true(trace.is_grease(d.cipher_suites[1]))
    -- and back: decode's own output encodes to the same bytes, and decodes to itself
    assert.equal(bytes, trace.encode(d))
    assert.same(d, trace.decode(trace.encode(d)))
  end)

  it("round-trips the ClientHello and ServerHello wolfSSL sends, byte for byte", function()
    for _, version in ipairs({ "tls1.2", "tls1.3" }) do
      local _, cev = traced(client_ctx({ max_version = version, alpn = { "h2" } }), server_ctx())
      for _, name in ipairs({ "client_hello", "server_hello" }) do
        local m = find(cev, name == "client_hello" and "sent" or "received", name)
        local d = assert(trace.decode(m))
        assert.equal(m.bytes, trace.encode(d), name .. " " .. version)
      end
    end
  end)

  it("names the offset where a message is malformed, at every truncation", function()
    local bytes = assert(trace.encode(sample_hello()))
    for n = 0, #bytes - 1 do
      local body = bytes:sub(1, n)
      local d, err = trace.decode(body)
      assert.is_nil(d)
      assert.matches("at offset %d+$", err)
    end
    -- an extension whose length runs past its block: the offset is that length field
    local t = sample_hello()
    t.extensions = { { name = "server_name", value = { "a.test" } } }
    local good = assert(trace.encode(t))
    -- the block ends: type(2) ext-len(2) list-len(2) name-type(1) name-len(2) "a.test"(6)
    local at = #good - 13 -- ext-len is at 1-based at+1, at+2
    local bad = good:sub(1, at) .. "\0\99" .. good:sub(at + 3)
    local d, err = trace.decode(bad)
    assert.is_nil(d)
    assert.equal(("malformed client_hello: extension_data is longer than its container: 99 bytes needed, 11 left at offset %d"):format(at + 2), err)
  end)

  it("never raises on garbage", function()
    math.randomseed(4)
    local base = assert(trace.encode(sample_hello()))
    for _ = 1, 3000 do
      local s = {}
      for i = 1, #base do
        local b = base:byte(i)
        if math.random() < 0.02 then b = math.random(0, 255) end
        s[i] = string.char(b)
      end
      local ok, d, err = pcall(trace.decode, table.concat(s))
      assert.is_true(ok, d)
      assert.is_true(d ~= nil or type(err) == "string")
    end
    for _, junk in ipairs({ "", "\1", "\1\0\0\5abc", "\2\0\0\0", "\11\0\0\3\0\0\1", ("\255"):rep(300), {}, 42 }) do
      local ok, d, err = pcall(trace.decode, junk)
      assert.is_true(ok)
      assert.is_nil(d)
      assert.is_string(err)
    end
  end)

  it("refuses to encode what it does not know, with a message", function()
    assert.same({ nil, "unknown cipher suite 'TLS_NOPE'" },
      { trace.encode({ type = "client_hello", cipher_suites = { "TLS_NOPE" } }) })
    assert.same({ nil, "cannot encode 'finished' (client_hello, server_hello, hello_retry_request)" },
      { trace.encode({ type = "finished" }) })
  end)
end)

describe("bad bytes on a traced connection", function()
  it("reports a record that is not TLS as a malformed event and fails with bad_input", function()
    local s = server_ctx():connection()
    local ev = trace.attach(s)
    s:feed("GET / HTTP/1.1\r\nHost: example.org\r\n\r\n")
    local ok, err, code = s:handshake()
    assert.is_nil(ok)
    assert.is_string(err)
    assert.is_truthy(code == "bad_input" or code == "handshake_failed", code)
    assert.equal("malformed", ev[1].type)
    assert.equal("not a TLS record", ev[1].error)
    assert.equal("received", ev[1].direction)
  end)

  it("reports nothing for a truncated record, and the peer's close ends the handshake", function()
    local c = client_ctx():connection({ server_name = "localhost" })
    local s = server_ctx():connection()
    local ev = trace.attach(s)
    c:handshake()
    local hello = c:take()
    s:feed(hello:sub(1, 100))
    assert.equal("wantread", select(3, s:handshake()))
    s:feed_eof()
    local ok, _, code = s:handshake()
    assert.is_nil(ok)
    assert.equal("closed", code)
    for _, m in ipairs(ev) do assert.equal("sent", m.direction) end -- wolfSSL's alert, if any
  end)

  it("marks a tampered encrypted record as not opened, and the handshake fails cleanly", function()
    local c = client_ctx():connection({ server_name = "localhost" })
    local s = server_ctx():connection()
    local ev = trace.attach(c)
    c:handshake()
    s:feed(c:take())
    s:handshake()
    local flight = s:take()
    -- flip one byte of the last record's ciphertext (the server's Finished)
    local i = #flight - 20
    flight = flight:sub(1, i - 1) .. string.char((flight:byte(i) + 1) % 256) .. flight:sub(i + 1)
    c:feed(flight)
    local ok, err, code = c:handshake()
    assert.is_nil(ok)
    assert.is_truthy(code == "bad_input" or code == "handshake_failed", code)
    assert.matches("bad_record_mac", err)
    local last = ev[#ev - 1] -- the last received; then the client's own alert
    assert.equal("alert", ev[#ev].type)
    assert.equal("sent", ev[#ev].direction)
    assert.is_true(last.encrypted)
    assert.is_true(last.protected)
    assert.equal("encrypted_handshake_message", last.type)
    assert.is_nil(last.bytes)
    assert.is_nil(trace.decode(last))
  end)

  it("survives a fuzzed server flight without a crash", function()
    math.randomseed(7)
    local cctx, sctx = client_ctx(), server_ctx()
    local c0 = cctx:connection({ server_name = "localhost" })
    local s0 = sctx:connection()
    c0:handshake()
    s0:feed(c0:take())
    s0:handshake()
    local flight = s0:take()
    for round = 1, 60 do
      local c = cctx:connection({ server_name = "localhost" })
      local n = 0
      c:set_handler("on_message", function(_, m) n = n + 1; assert(type(m.type) == "string") end)
      c:handshake()
      local s = {}
      for i = 1, #flight do
        local b = flight:byte(i)
        if math.random() < 0.01 then b = math.random(0, 255) end
        s[i] = string.char(b)
      end
      local fuzzed = table.concat(s)
      if round % 3 == 0 then fuzzed = fuzzed:sub(1, math.random(1, #fuzzed)) end
      c:feed(fuzzed)
      c:feed_eof()
      local ok, err, code = c:handshake()
      assert.is_nil(ok)
      assert.is_string(err)
      assert.is_truthy(({ bad_input = 1, handshake_failed = 1, closed = 1, alert = 1, verify_failed = 1 })[code], code .. ": " .. err)
      c:close()
    end
  end)
end)

describe("trace.ladder", function()
  it("draws a TLS 1.3 handshake as a sequence diagram with its key fields", function()
    local p, cev = traced(client_ctx({ alpn = { "h2" } }), server_ctx())
    assert.equal("ok", p:transfer("client", "ok"))
    local text = trace.ladder(cev)
    local lines = {}
    for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.matches("^client%s+server$", lines[1])
    assert.matches("^ClientHello%s+%-+>%s+TLSv1%.3,TLSv1%.2  sni=localhost  alpn=h2  share=x25519$", lines[2])
    assert.matches("^%s+<%-+%s+ServerHello%s+TLSv1%.3  TLS_CHACHA20_POLY1305_SHA256  x25519$", lines[3])
    assert.matches("^%s+<=+%s+EncryptedExtensions$", lines[4])
    assert.matches("^%s+<=+%s+Certificate%s+CN=localhost$", lines[5])
    assert.matches("^%s+<=+%s+CertificateVerify%s+ecdsa_secp256r1_sha256$", lines[6])
    assert.matches("^%s+<=+%s+Finished$", lines[7])
    assert.matches("^Finished%s+=+>$", lines[8])
    assert.matches("^%s+<=+%s+NewSessionTicket%s+lifetime %d+s$", lines[9])
    assert.matches("^ApplicationData%s+=+>%s+2 bytes$", lines[10])
  end)

  it("raises on arguments that are not events, contexts or connections", function()
    assert.has_error(function() trace.ladder(nil) end, "bad argument #1 to 'ladder' (list of trace events expected)")
    assert.has_error(function() trace.attach("conn") end, "bad argument #1 to 'attach' (Context or Connection expected)")
    assert.has_error(function() trace.attach(client_ctx(), 42) end, "bad argument #2 to 'attach' (file or function expected)")
  end)

  it("draws a pair's events once per message, from the sender's side", function()
    local cctx, sctx = client_ctx({ max_version = "tls1.2" }), server_ctx()
    local all = {}
    local function collect(_, m) all[#all + 1] = m end
    cctx:on("on_message", collect)
    sctx:on("on_message", collect)
    local first = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost" }))
    local c = cctx:connection({ server_name = "localhost", session = assert(first.client:session()) })
    local p = setmetatable({ client = c, server = sctx:connection() }, Pair)
    assert.is_true(p:handshake())
    assert.is_true(p.client:info().resumed)
    local text = trace.ladder(all)
    local _, n = text:gsub("ClientHello", "")
    assert.equal(2, n)
    assert.matches("ServerHello%s+TLSv1%.2  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256\n%s+<%-+%s+ChangeCipherSpec%s+resumed", text)
  end)
end)

describe("examples/trace_pair.lua", function()
  it("prints both sides of a full, a mutual TLS and a resumed in-memory handshake", function()
    local peer = require "spec.helpers.peer"
    local proc = peer.spawn((os.getenv("LW_LUA") or "lua5.4") .. " examples/trace_pair.lua", { lua = true })
    local finished = peer.wait(proc, 60)
    peer.stop(proc)
    local out = peer.output(proc)
    assert.is_true(finished, out)
    assert.matches("== full handshake", out, 1, true)
    assert.matches("== mutual TLS", out, 1, true)
    assert.matches("== resumed", out, 1, true)
    assert.matches("CertificateRequest", out, 1, true)
    assert.matches("Certificate%s+=+>%s+CN=trace%-pair client", out)
    assert.matches("ServerHello%s+TLSv1%.3  TLS_CHACHA20_POLY1305_SHA256  x25519  resumed", out)
    assert.not_matches("~~~~~~~~", out) -- everything opened
  end)
end)
