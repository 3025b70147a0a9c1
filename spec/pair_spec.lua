-- A test script stands between a client and a server wired in memory (wolfssl.pair) and
-- sees every flight of bytes: it can watch them, change them, drop them, hold them back
-- and deliver them later, or slip in bytes of its own; each side then reports what a
-- real peer would see.
local wolfssl = require "wolfssl"
local pair = require "wolfssl.pair"
local certs = require "spec.helpers.certs"
local contexts = require "spec.helpers.ctx"
local tmp = require "spec.helpers.tmp"
local peer = require "spec.helpers.peer"

local LUA = os.getenv("LW_LUA") or "lua5.4"
local unpack = table.unpack or unpack

local function server_ctx() return contexts.server() end
local function client_ctx(version, extra) return contexts.client(contexts.version(version, extra)) end

local function flip(s, i)
  return s:sub(1, i - 1) .. string.char((s:byte(i) + 1) % 256) .. s:sub(i + 1)
end

-- Flip one byte inside the last record of a flight (the Finished, when it ends one).
local function flip_last_record(bytes)
  local records, rest = pair.records(bytes)
  local last = records[#records]
  last.payload = flip(last.payload, #last.payload - 20)
  return pair.join(records) .. rest
end

describe("a pair hook", function()
  it("observes each flight of a TLS 1.3 handshake, in order, with its records", function()
    local seen = {}
    local p = assert(wolfssl.pair(client_ctx("tls1.3"), server_ctx(), {
      server_name = "localhost",
      hook = function(f)
        local records = f:records()
        seen[#seen + 1] = { from = f.from, to = f.to, n = f.n, seq = f.seq, phase = f.phase,
          first = records[1].name, hs_type = records[1].payload:byte(1), count = #records }
      end,
    }))
    assert.is_true(p.client:info().verified)
    assert.equal(4, #seen)
    -- ClientHello (handshake type 1) in one record
    assert.same({ from = "client", to = "server", n = 1, seq = 1, phase = "handshake",
      first = "handshake", hs_type = 1, count = 1 }, seen[1])
    -- ServerHello (type 2) in the clear, then the encrypted rest of the server's flight
    assert.equal("server", seen[2].from)
    assert.equal(2, seen[2].hs_type)
    assert.is_true(seen[2].count >= 2)
    -- the client's Finished, encrypted
    assert.same({ "client", 2, "application_data" }, { seen[3].from, seen[3].seq, seen[3].first })
    -- once both sides are done, the server's NewSessionTicket is the first "data" flight
    assert.same({ "server", "data", "application_data" }, { seen[4].from, seen[4].phase, seen[4].first })
  end)

  for _, version in ipairs({ "tls1.3", "tls1.2" }) do
    it(("flips a byte of the server Finished (%s): the client sends bad_record_mac and fails with bad_input"):format(version), function()
      -- TLS 1.3: the Finished ends the server's first flight; TLS 1.2: its second
      local target = version == "tls1.3" and 1 or 2
      local tampered
      local p, err, code, side, failed = wolfssl.pair(client_ctx(version), server_ctx(), {
        server_name = "localhost",
        hook = function(f)
          if f.from == "server" and f.seq == target then
            tampered = f:records()
            return flip_last_record(f.bytes)
          end
        end,
      })
      assert.is_nil(p)
      assert.truthy(tampered)
      if version == "tls1.2" then
        -- ([NewSessionTicket,] ChangeCipherSpec, then the Finished (a handshake record,
        -- encrypted) at the end
        assert.same({ "change_cipher_spec", "handshake" }, { tampered[#tampered - 1].name, tampered[#tampered].name })
      end
      assert.equal("client", side)
      assert.equal("bad_input", code)
      assert.matches("^handshake failed: malformed data from peer: .*%(sent alert bad_record_mac%)$", err)
      -- the server hears about it as the alert
      assert.equal("alert", failed.errors.server[2])
      assert.matches("received alert bad_record_mac$", failed.errors.server[1])
    end)
  end

  it("flips a byte of a ChaCha20-Poly1305 record: also bad_record_mac / bad_input", function()
    local p, err, code = wolfssl.pair(client_ctx("tls1.3", { ciphers = "TLS13-CHACHA20-POLY1305-SHA256" }), server_ctx(), {
      server_name = "localhost",
      hook = function(f) if f.from == "server" and f.seq == 1 then return flip_last_record(f.bytes) end end,
    })
    assert.is_nil(p)
    assert.equal("bad_input", code)
    assert.matches("(sent alert bad_record_mac)", err, 1, true)
  end)

  it("drops a flight: the handshake stalls and says so", function()
    local p, err, code = wolfssl.pair(client_ctx("tls1.3"), server_ctx(), {
      server_name = "localhost",
      max_rounds = 10,
      hook = function(f) if f.from == "server" then return false end end,
    })
    assert.is_nil(p)
    assert.equal("handshake did not complete", err)
    assert.equal("handshake_failed", code)
  end)

  it("holds a flight back and delivers it later with inject(): the handshake then completes", function()
    local held
    local p = assert(wolfssl.pair(client_ctx("tls1.3"), server_ctx(), {
      server_name = "localhost", handshake = false,
      hook = function(f)
        if f.from == "server" and f.seq == 1 then held = f.bytes; return false end
      end,
    }))
    assert.equal("wantread", select(3, p.client:handshake()))
    p:flush()
    assert.equal("wantread", select(3, p.server:handshake()))
    p:flush()
    assert.truthy(held)
    assert.equal("wantread", select(3, p.client:handshake())) -- nothing arrived
    assert.is_true(p:inject("client", held))
    assert.is_true(p:handshake())
    assert.is_true(p.client:info().verified)
  end)

  it("reorders the records of the server's TLS 1.2 flight: the client refuses the out-of-order message", function()
    local p, err, code, side, failed = wolfssl.pair(client_ctx("tls1.2"), server_ctx(), {
      server_name = "localhost",
      hook = function(f)
        if f.from == "server" and f.seq == 1 then
          local r = f:records()
          r[1], r[2] = r[2], r[1] -- Certificate before ServerHello
          return { r[1].bytes, r[2].bytes, pair.join({ unpack(r, 3) }) }
        end
      end,
    })
    assert.is_nil(p)
    assert.equal("client", side)
    assert.equal("handshake_failed", code)
    assert.matches("Out of order message", err, 1, true)
    -- wolfSSL 5.5.4 sends no unexpected_message alert here: the server is left waiting
    assert.equal("wantread", failed.errors.server[2])
  end)

  it("injects a fatal alert in place of the server's flight: the client fails with code alert", function()
    local p, err, code = wolfssl.pair(client_ctx("tls1.3"), server_ctx(), {
      server_name = "localhost",
      hook = function(f) if f.from == "server" then return pair.alert("handshake_failure") end end,
    })
    assert.is_nil(p)
    assert.equal("alert", code)
    assert.equal("handshake failed: received alert handshake_failure", err)
  end)

  it("sees application data as phase 'data' and can corrupt it", function()
    local phases = {}
    local corrupt = false
    local p = assert(wolfssl.pair(client_ctx("tls1.3"), server_ctx(), {
      server_name = "localhost",
      hook = function(f)
        phases[#phases + 1] = f.phase
        if corrupt and f.from == "client" then return flip(f.bytes, #f.bytes) end
      end,
    }))
    assert.equal("ping", p:transfer("client", "ping"))
    assert.equal("data", phases[#phases])
    assert.equal("handshake", phases[1])
    corrupt = true
    local data, err, code = p:transfer("client", "pong")
    assert.is_nil(data)
    assert.equal("bad_input", code)
    assert.matches("(sent alert bad_record_mac)", err, 1, true)
  end)

  it("runs several hooks in order, each on what the previous one delivers", function()
    local order = {}
    local p = wolfssl.pair(client_ctx("tls1.3"), server_ctx(), { server_name = "localhost", handshake = false })
    p:hook(function(f) order[#order + 1] = "a" .. f.n; return f.bytes end)
    p:hook(function(f) order[#order + 1] = "b" .. f.n; if f.from == "server" then return false end end)
    p:hook(function(f) order[#order + 1] = "c" .. f.n end) -- not reached for a dropped flight
    assert.is_nil(p:handshake(4))
    assert.same({ "a1", "b1", "c1", "a2", "b2" }, order)
  end)

  it("raises on a hook that returns something it cannot deliver, naming the type", function()
    local p = wolfssl.pair(client_ctx("tls1.3"), server_ctx(), { server_name = "localhost", handshake = false })
    p:hook(function() return 42 end)
    p.client:handshake()
    assert.has_error(function() p:flush() end, "pair hook returned a number (expected nil, boolean, string or list)")
    assert.has_error(function() p:hook("x") end, "bad argument #1 to 'hook' (function expected, got string)")
    assert.has_error(function() p:inject("middle", "x") end)
  end)
end)

describe("wolfssl.pair record helpers", function()
  it("split a flight into records and join them back byte for byte", function()
    local bytes = pair.record(22, "\1\0\0\0") .. pair.alert("close_notify", "warning") .. "\23\3"
    local records, rest = pair.records(bytes)
    assert.equal(2, #records)
    assert.same({ 22, "handshake", 0x0303, 4, "\1\0\0\0" },
      { records[1].type, records[1].name, records[1].version, records[1].length, records[1].payload })
    assert.same({ "alert", "\1\0" }, { records[2].name, records[2].payload })
    assert.equal("\23\3", rest)
    assert.equal(bytes, pair.join(records) .. rest)
    records[1].payload = "\1\0\0\1\9" -- a longer payload gets a new length
    assert.equal("\22\3\3\0\5\1\0\0\1\9", pair.join({ records[1] }))
  end)
end)

describe("examples/tamper.lua", function()
  it("shows both sides' errors after it flips a bit of the server Finished", function()
    -- a Lua child keeps the sanitizer runtime under `make asan` (peer.spawn's lua option)
    local proc = peer.spawn(("%s examples/tamper.lua %s %s %s"):format(LUA, tmp.quote(certs.path("ec.pem")),
      tmp.quote(certs.path("ec.key")), tmp.quote(certs.path("ca.pem"))), { lua = true })
    local finished = peer.wait(proc, 20)
    peer.stop(proc)
    local out = peer.output(proc)
    assert.is_true(finished, out)
    assert.matches("TLS 1.3: flipping one bit of the server's Finished", out, 1, true)
    assert.matches("server -> client flight 2: handshake(90) ", out, 1, true)
    assert.matches("<- tampered", out, 1, true)
    assert.matches("client failed first: handshake failed: malformed data from peer:", out, 1, true)
    assert.matches("(sent alert bad_record_mac) [bad_input]", out, 1, true)
    assert.matches("server saw: handshake failed: received alert bad_record_mac [alert]", out, 1, true)
    assert.matches("server saw: read failed: received alert bad_record_mac [alert]", out, 1, true)
    assert.not_matches("went unnoticed", out, 1, true)
  end)
end)
