-- The trace of a handshake with a real peer agrees with what that peer says happened:
-- openssl's -trace output (every field, decrypted) and -msg output (every message and
-- its length). The same exchange, seen from both ends, message by message and byte
-- by byte.
local socket = require "socket"
local wolfssl = require "wolfssl"
local trace = require "wolfssl.trace"
local certs = require "spec.helpers.certs"
local contexts = require "spec.helpers.ctx"
local peer = require "spec.helpers.peer"
local drive = require "spec.helpers.drive"
local tmp = require "spec.helpers.tmp"

local function hex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end
local function snake(name) return (name:gsub("(%l)(%u)", "%1_%2"):lower()) end

-- openssl -trace: one entry per message {direction, type, length, text}, directions as
-- openssl saw them ("sent" / "received").
local function parse_trace(log)
  local out, dir, ctype = {}, nil, nil
  local cur
  for line in (log .. "\n"):gmatch("([^\n]*)\n") do
    local d = line:match("^(%a+) Record$")
    if d == "Sent" or d == "Received" then
      dir, ctype, cur = d:lower(), nil, nil
    elseif dir then
      local ct = line:match("^  Content Type = %a+ %((%d+)%)") or line:match("^  Inner Content Type = %a+ %((%d+)%)")
      if ct then
        ctype = tonumber(ct)
        if ctype == 20 then out[#out + 1] = { direction = dir, type = "change_cipher_spec" } end
      end
      local name, len = line:match("^    (%a+), Length=(%d+)$")
      if name and ctype == 22 then
        cur = { direction = dir, type = snake(name), length = tonumber(len), text = {} }
        out[#out + 1] = cur
      elseif line:match("^    Level=") and ctype == 21 then
        out[#out + 1] = { direction = dir, type = "alert", text = { line } }
        cur = nil
      elseif cur and line ~= "" then
        cur.text[#cur.text + 1] = line
      end
    end
  end
  for _, m in ipairs(out) do m.text = table.concat(m.text or {}, "\n") end
  return out
end

-- openssl -msg: ">>> TLS 1.3, Handshake [length 0136], ClientHello"
local function parse_msg(log)
  local out = {}
  for arrows, kind, len, rest in log:gmatch("\n?(%p%p%p) [^,]+, (%a+) %[length (%x+)%]([^\n]*)") do
    local dir = arrows == ">>>" and "sent" or arrows == "<<<" and "received"
    if dir and kind == "Handshake" then
      out[#out + 1] = { direction = dir, type = snake(rest:match(", (%a+)")), length = tonumber(len, 16) - 4 }
    elseif dir and kind == "ChangeCipherSpec" then
      out[#out + 1] = { direction = dir, type = "change_cipher_spec" }
    end
  end
  return out
end

-- the handshake messages and CCS records of a lua-wolfssl trace, mirrored to the peer's view
local function peer_view(events)
  local out = {}
  for _, m in ipairs(events) do
    if m.content_type == 22 or m.content_type == 20 then
      out[#out + 1] = { direction = m.direction == "sent" and "received" or "sent", type = m.type,
        length = m.content_type == 22 and m.length or nil }
    end
  end
  return out
end

local function strip(list, keep_length)
  local out = {}
  for i, m in ipairs(list) do
    out[i] = { direction = m.direction, type = m.type, length = keep_length and m.length or nil }
  end
  return out
end

local function nth(list, direction, type_, n)
  local k = 0
  for _, m in ipairs(list) do
    if m.direction == direction and m.type == type_ then
      k = k + 1
      if k == (n or 1) then return m end
    end
  end
  error(("no %s %s #%d"):format(direction, type_, n or 1), 2)
end

local function client_ctx(version) return contexts.client(contexts.version(version)) end

describe("a traced lua-wolfssl client against openssl s_server -trace", function()
  local server
  local traces = 0
  after_each(function() peer.stop(server) end)

  local function run(version, transport)
    -- -msgfile: the trace alone in its own file (on stdout it interleaves with s_server's
    -- other output)
    traces = traces + 1
    local msgfile = tmp.path(("s_server-trace%d.log"):format(traces))
    server = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"),
      args = ("-rev -trace -msgfile %s -naccept 2%s"):format(tmp.quote(msgfile), version == "tls1.2" and " -tls1_2" or "") })
    local sock = assert(socket.connect("127.0.0.1", server.port))
    finally(function() sock:close() end)
    local ctx = client_ctx(version)
    local conn, reply
    if transport == "fd" then
      conn = assert(ctx:connection({ server_name = "localhost", fd = sock:getfd() }))
      conn:settimeout(5)
    else
      conn = assert(ctx:connection({ server_name = "localhost" }))
    end
    local events = trace.attach(conn)
    if transport == "fd" then
      assert.is_true(conn:handshake())
      conn:write("ping\n")
      local parts = {}
      repeat parts[#parts + 1] = conn:read() until not parts[#parts] or table.concat(parts):find("\n")
      reply = table.concat(parts)
      conn:shutdown()
    else
      assert.is_true(drive.call(conn, sock, "handshake"))
      conn:write("ping\n")
      reply = drive.read_all(conn, sock, function(s) return s:find("\n") end)
      conn:shutdown()
      sock:send(conn:take())
    end
    assert.equal("gnip\n", reply)
    local info = conn:info()
    conn:close()
    sock:close()
    -- s_server's output to a file is buffered: it is complete once s_server exits
    -- (-naccept 2: the port probe, then this connection)
    assert.is_true(peer.wait(server, 5), "s_server did not exit")
    return events, parse_trace(tmp.read(msgfile) or ""), info
  end

  for _, transport in ipairs({ "memory", "fd" }) do
    it("sees every TLS 1.3 message, decoded, as the server sent and received it (" .. transport .. ")", function()
      local events, theirs, info = run("tls1.3", transport)
      local flow = {}
      for _, m in ipairs(events) do
        if m.content_type == 22 or m.content_type == 20 then flow[#flow + 1] = m.direction .. " " .. m.type end
      end
      -- the issue's "done when": the whole TLS 1.3 exchange, from the client's side
      assert.same({ "sent client_hello", "received server_hello", "received change_cipher_spec",
        "received encrypted_extensions", "received certificate", "received certificate_verify",
        "received finished", "sent finished", "received new_session_ticket", "received new_session_ticket" }, flow)
      for _, m in ipairs(events) do assert.is_false(m.encrypted) end
      -- message by message and length by length, what openssl says it did
      local mine = peer_view(events)
      local ours_no_alerts = {}
      for _, m in ipairs(theirs) do if m.type ~= "alert" then ours_no_alerts[#ours_no_alerts + 1] = m end end
      assert.same(strip(ours_no_alerts, true), strip(mine, true))

      -- field by field
      local ch = assert(trace.decode(nth(events, "sent", "client_hello")))
      local t = nth(theirs, "received", "client_hello").text
      assert.equal(hex(ch.random), (t:match("gmt_unix_time=0x(%x+)") .. t:match("random_bytes %(len=28%): (%x+)")):lower())
      assert.equal(hex(ch.session_id), (t:match("session_id %(len=%d+%): ?(%x*)")):lower())
      local suites = {}
      for name in t:gmatch("{0x%x+, 0x%x+} ([%w_]+)") do suites[#suites + 1] = name end
      assert.same(ch.cipher_suites, suites)
      local types = {}
      for n in t:gmatch("extension_type=[%w_]+%((%d+)%)") do types[#types + 1] = tonumber(n) end
      local mytypes = {}
      for i, e in ipairs(ch.extensions) do mytypes[i] = e.type end
      assert.same(mytypes, types)

      local sh = assert(trace.decode(nth(events, "received", "server_hello")))
      t = nth(theirs, "sent", "server_hello").text
      assert.equal(sh.cipher_suite, t:match("cipher_suite {0x%x+, 0x%x+} ([%w_]+)"))
      assert.equal(info.cipher, sh.cipher_suite)
      assert.equal(trace.codes.groups[sh.extensions.key_share.group], tonumber(t:match("NamedGroup: [%w_]+ %((%d+)%)")))
      assert.equal(hex(sh.extensions.key_share.key_exchange), t:match("key_exchange:  %(len=%d+%): (%x+)"):lower())
      assert.equal(hex(sh.random), (t:match("gmt_unix_time=0x(%x+)") .. t:match("random_bytes %(len=28%): (%x+)")):lower())

      local cert = assert(trace.decode(nth(events, "received", "certificate")))
      t = nth(theirs, "sent", "certificate").text
      assert.equal(t:match("Subject: ([^\n]+)"):gsub(" = ", "="), tostring(cert.certificate_list[1].certificate:subject()))

      local cv = assert(trace.decode(nth(events, "received", "certificate_verify")))
      t = nth(theirs, "sent", "certificate_verify").text
      assert.equal(t:match("Signature Algorithm: ([%w_]+)"), cv.algorithm)
      assert.equal(hex(cv.signature), t:match("Signature %(len=%d+%): (%x+)"):lower())

      for _, dir in ipairs({ "received", "sent" }) do
        local fin = assert(trace.decode(nth(events, dir, "finished")))
        t = nth(theirs, dir == "sent" and "received" or "sent", "finished").text
        assert.equal(hex(fin.verify_data), t:match("verify_data %(len=%d+%): (%x+)"):lower())
      end

      for n = 1, 2 do
        local nst = assert(trace.decode(nth(events, "received", "new_session_ticket", n)))
        t = nth(theirs, "sent", "new_session_ticket", n).text
        assert.equal(tonumber(t:match("ticket_age_add=(%d+)")), nst.ticket_age_add)
        assert.equal(tonumber(t:match("ticket_lifetime_hint=(%d+)")), nst.ticket_lifetime)
        assert.equal(hex(nst.ticket), t:match("ticket %(len=%d+%): (%x+)"):lower())
      end
    end)
  end

  it("sees every TLS 1.2 message, the encrypted Finished included", function()
    local events, theirs, info = run("tls1.2", "memory")
    local handshake = {}
    for _, m in ipairs(theirs) do if m.type ~= "alert" then handshake[#handshake + 1] = m end end
    assert.same({ "received client_hello", "sent server_hello", "sent certificate", "sent server_key_exchange",
      "sent server_hello_done", "received client_key_exchange", "received change_cipher_spec",
      "received finished", "sent new_session_ticket", "sent change_cipher_spec", "sent finished" },
      (function() local l = {} for i, m in ipairs(handshake) do l[i] = m.direction .. " " .. m.type end return l end)())
    assert.same(strip(handshake, true), strip(peer_view(events), true))
    for _, m in ipairs(events) do assert.is_false(m.encrypted) end
    local sh = assert(trace.decode(nth(events, "received", "server_hello")))
    assert.equal(info.cipher, sh.cipher_suite)
    assert.equal(sh.cipher_suite, nth(theirs, "sent", "server_hello").text:match("cipher_suite {0x%x+, 0x%x+} ([%w_]+)"))
    local ske = assert(trace.decode(nth(events, "received", "server_key_exchange")))
    local t = nth(theirs, "sent", "server_key_exchange").text
    assert.equal(trace.codes.groups[ske.named_curve], tonumber(t:match("named_curve: [%w_]+ %((%d+)%)")))
    assert.equal(info.group, ske.named_curve)
    assert.equal(hex(ske.public), t:match("point %(len=%d+%): (%x+)"):lower())
    assert.equal(t:match("Signature Algorithm: ([%w_]+)"), ske.algorithm)
    for _, dir in ipairs({ "received", "sent" }) do
      local fin = assert(trace.decode(nth(events, dir, "finished")))
      assert.equal(12, #fin.verify_data)
      assert.equal(hex(fin.verify_data),
        nth(theirs, dir == "sent" and "received" or "sent", "finished").text:match("verify_data %(len=12%): (%x+)"):lower())
    end
  end)
end)

describe("a traced lua-wolfssl server against openssl s_client -msg", function()
  for _, case in ipairs({ { "tls1.3", "memory" }, { "tls1.3", "fd" }, { "tls1.2", "memory" } }) do
    local version, transport = case[1], case[2]
    it(("sees the same exchange from its side (%s, %s transport)"):format(version, transport), function()
      local listener, port = peer.listen()
      local ctx = assert(wolfssl.context({ role = "server", certificate = certs.path("ec.pem"), key = certs.path("ec.key"),
        min_version = version, max_version = version }))
      local client = peer.s_client(port, { input = "hello\n",
        args = "-msg -servername localhost -ign_eof " .. (version == "tls1.2" and "-tls1_2" or "-tls1_3") })
      finally(function() peer.stop(client) end)
      listener:settimeout(5)
      local sock = assert(listener:accept())
      listener:close()
      finally(function() sock:close() end)
      local conn, line
      local lines = {}
      if transport == "fd" then
        conn = assert(ctx:connection({ fd = sock:getfd() }))
        conn:settimeout(5)
      else
        conn = assert(ctx:connection())
      end
      local events = trace.attach(conn, function(l) lines[#lines + 1] = l end)
      if transport == "fd" then
        assert.is_true(conn:handshake())
        local parts = {}
        repeat parts[#parts + 1] = conn:read() until table.concat(parts):find("\n")
        line = table.concat(parts)
        conn:write("bye\n")
        conn:shutdown()
      else
        assert.is_true(drive.call(conn, sock, "handshake"))
        line = drive.read_all(conn, sock, function(s) return s:find("\n") end)
        conn:write("bye\n")
        conn:shutdown()
        sock:send(conn:take())
      end
      assert.equal("hello\n", line)
      conn:close()
      sock:close()
      assert.is_true(peer.wait(client, 5), "s_client did not exit")
      local theirs = parse_msg(peer.output(client))
      local function no_received_ccs(list) -- openssl 3.0's -msg never prints a received CCS
        local out = {}
        for _, m in ipairs(list) do
          if not (m.type == "change_cipher_spec" and m.direction == "received") then out[#out + 1] = m end
        end
        return out
      end
      local expect = version == "tls1.3"
        and { "received client_hello", "sent server_hello", "sent encrypted_extensions", "sent certificate",
          "sent certificate_verify", "sent finished", "received change_cipher_spec", "received finished",
          "sent new_session_ticket" }
        or { "received client_hello", "sent server_hello", "sent certificate", "sent server_key_exchange",
          "sent server_hello_done", "received client_key_exchange", "received change_cipher_spec",
          "received finished", "sent new_session_ticket", "sent change_cipher_spec", "sent finished" }
      local flow = {}
      for _, m in ipairs(events) do
        if m.content_type == 22 or m.content_type == 20 then flow[#flow + 1] = m.direction .. " " .. m.type end
        assert.is_false(m.encrypted)
      end
      assert.same(expect, flow)
      -- openssl's own list of what it sent and received, with the lengths, mirrored
      assert.same(strip(no_received_ccs(theirs), true), strip(no_received_ccs(peer_view(events)), true))
      local text = table.concat(lines, "\n")
      assert.matches("ClientHello%s+%-+>%s+TLSv1%.[23]", text)
      assert.matches("\n%s+<[-=]+%s+ServerHello", text)
    end)
  end
end)

describe("a traced lua-wolfssl server and a KeyUpdate (openssl s_client's K command)", function()
  it("opens both KeyUpdates and the records under the new keys", function()
    local listener, port = peer.listen()
    local ctx = assert(wolfssl.context({ role = "server", certificate = certs.path("ec.pem"), key = certs.path("ec.key") }))
    -- interactive s_client: "K" sends a KeyUpdate that requests one back, EOF closes
    local client = peer.s_client(port, { input = "K\n", args = "-servername localhost -tls1_3" })
    finally(function() peer.stop(client) end)
    listener:settimeout(5)
    local sock = assert(listener:accept())
    listener:close()
    finally(function() sock:close() end)
    local conn = assert(ctx:connection({ fd = sock:getfd() }))
    conn:settimeout(5)
    local events = trace.attach(conn)
    assert.is_true(conn:handshake())
    assert.same({ nil, "closed", "closed" }, { conn:read() })
    local after = {}
    local seen = false
    for _, m in ipairs(events) do
      assert.is_false(m.encrypted, m.type)
      if m.type == "key_update" then seen = true end
      if seen then after[#after + 1] = m.direction .. " " .. m.type end
    end
    assert.same({ "received key_update", "sent key_update", "received alert" }, after)
    assert.equal("update_requested", assert(trace.decode(nth(events, "received", "key_update"))).request_update)
    assert.equal("update_not_requested", assert(trace.decode(nth(events, "sent", "key_update"))).request_update)
    assert.equal("close_notify", nth(events, "received", "alert").description)
    -- and what we send after our KeyUpdate is opened too
    conn:write("late\n")
    local last = events[#events]
    assert.same({ "sent", "application_data", 5, true, false }, { last.direction, last.type, last.length, last.protected, last.encrypted })
    conn:close()
  end)
end)

describe("examples/trace.lua", function()
  local LUA = os.getenv("LW_LUA") or "lua5.4"
  local server
  after_each(function() peer.stop(server) end)

  local function run(args)
    local proc = peer.spawn(("%s examples/trace.lua 127.0.0.1 %d %s"):format(LUA, server.port, args), { lua = true })
    local finished = peer.wait(proc, 20)
    peer.stop(proc)
    return peer.output(proc), finished
  end

  it("draws the ladder of a TLS 1.3 handshake with openssl s_server, every message opened", function()
    server = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"), args = "-rev" })
    local out, finished = run("--servername localhost --ca " .. certs.path("ca.pem"))
    assert.is_true(finished, out)
    local order = { "ClientHello%s+%-+>", "<%-+%s+ServerHello%s+TLSv1%.3", "<%-+%s+ChangeCipherSpec",
      "<=+%s+EncryptedExtensions", "<=+%s+Certificate%s+CN=localhost", "<=+%s+CertificateVerify",
      "<=+%s+Finished", "\nFinished%s+=+>", "<=+%s+NewSessionTicket" }
    local pos = 1
    for _, pat in ipairs(order) do
      local s, e = out:find(pat, pos)
      assert.is_truthy(s, "missing in order: " .. pat .. "\n" .. out)
      pos = e + 1
    end
    assert.not_matches("~~~~~", out)
    assert.matches("negotiated TLSv1.3 TLS_AES_128_GCM_SHA256 x25519", out, 1, true)
  end)

  it("traces TLS 1.2 with --tls1.2, the Finished messages opened", function()
    server = peer.s_server({ cert = certs.path("rsa.pem"), key = certs.path("rsa.key"), args = "-rev" })
    local out, finished = run("--tls1.2 --servername localhost --decode")
    assert.is_true(finished, out)
    assert.matches("ServerKeyExchange%s+x25519%s+rsa_pss_rsae_sha%d+", out)
    assert.matches("ChangeCipherSpec%s+%-+>", out)
    assert.matches("\nFinished%s+=+>", out)
    assert.matches("<=+%s+Finished", out)
    assert.matches("verify_data = <12 bytes>", out, 1, true)
    assert.matches("negotiated TLSv1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", out, 1, true)
  end)

  it("opens a CBC suite's Finished messages without encrypt-then-MAC (s_server -no_etm)", function()
    server = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"),
      args = "-rev -no_etm -cipher ECDHE-ECDSA-AES128-SHA256" })
    local out, finished = run("--tls1.2 --servername localhost --ciphers ECDHE-ECDSA-AES128-SHA256")
    assert.is_true(finished, out)
    assert.matches("\nFinished%s+=+>", out)
    assert.matches("<=+%s+Finished", out)
    assert.not_matches("~~~~~", out)
    assert.matches("negotiated TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", out, 1, true)
  end)
end)
