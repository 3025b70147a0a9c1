-- The paths every record takes stay cheap: feeding a stream one byte at a time costs
-- the same per byte for 1 MiB as for 128 KiB (no quadratic copying), and reading,
-- writing or polling allocates nothing in Lua beyond the strings handed to the script.
-- These are shapes, not speeds: ratios within one process, so a slow or loaded
-- machine (valgrind, ASan, CI) passes or fails them alike. Speed is bench/'s job.
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"

local VALGRIND = os.getenv("WOLFSSL_SPEC_VALGRIND") ~= nil
local KiB = 1024

local function pair()
  local cctx = assert(wolfssl.context({ role = "client", ca = certs.path("ca.pem") }))
  local sctx = assert(wolfssl.context({ role = "server", certificate = certs.path("ec.pem"), key = certs.path("ec.key") }))
  return assert(wolfssl.pair(cctx, sctx, { server_name = "localhost" }))
end

-- `n` bytes of application data from the server, as the bytes on the wire
local function wire(p, n)
  local block = ("z"):rep(16 * KiB)
  local left = n
  while left > 0 do
    local w = left < #block and block:sub(1, left) or block
    assert(p.server:write(w))
    left = left - #w
  end
  return p.server:take()
end

-- CPU seconds to push `bytes` into the client one byte at a time; `interleave`: read
-- after every byte (a driver that polls), else feed everything first, then read.
local function trickle(n, interleave)
  local p = pair()
  local bytes = wire(p, n)
  local c = p.client
  local sub, got = string.sub, 0
  local t0 = os.clock()
  for i = 1, #bytes do
    c:feed(sub(bytes, i, i))
    if interleave then
      local s = c:read()
      if s then got = got + #s end
    end
  end
  while true do
    local s = c:read()
    if not s then break end
    got = got + #s
  end
  local t = os.clock() - t0
  assert.equal(n, got)
  p:close()
  return t
end

local function best_of(k, f, ...)
  local best = math.huge
  for _ = 1, k do best = math.min(best, f(...)) end
  return best
end

describe("feeding a stream one byte at a time", function()
  -- 8x the bytes must cost about 8x the time; quadratic work would cost 64x
  local small, big = 128 * KiB, 1024 * KiB
  if VALGRIND then small, big = 16 * KiB, 128 * KiB end

  for _, interleave in ipairs({ false, true }) do
    local how = interleave and "reading after every byte" or "reading at the end"
    it(("grows linearly with the stream (%s)"):format(how), function()
      local t_small = best_of(3, trickle, small, interleave)
      local t_big = best_of(2, trickle, big, interleave)
      local ratio = t_big / math.max(t_small, 1e-3)
      assert.is_true(ratio < 20, ("8x the bytes took %.1fx the time (%.3fs vs %.3fs)"):format(ratio, t_big, t_small))
    end)
  end
end)

describe("the per-record hot path", function()
  local function allocated(f)
    collectgarbage()
    collectgarbage("stop")
    local before = collectgarbage("count")
    f()
    local after = collectgarbage("count")
    collectgarbage("restart")
    return (after - before) * 1024
  end

  it("allocates only the returned string when reading a record", function()
    local p = pair()
    local N = VALGRIND and 20 or 200
    p.client:feed(wire(p, N * 16 * KiB))
    local read = p.client.read
    local bytes = allocated(function()
      for _ = 1, N do assert(read(p.client)) end
    end)
    -- the string itself: 16 KiB plus Lua's header for it
    assert.is_true(bytes / N <= 16 * KiB + 64, ("%.0f bytes per 16 KiB record"):format(bytes / N))
  end)

  it("allocates nothing in Lua to write a record or take its bytes back out as one string", function()
    local p = pair()
    local N = VALGRIND and 20 or 200
    local block = ("w"):rep(16 * KiB)
    local write = p.client.write
    local bytes = allocated(function()
      for _ = 1, N do assert(write(p.client, block)) end
    end)
    assert.is_true(bytes / N <= 16, ("%.0f bytes per write"):format(bytes / N))
    local out = p.client:take()
    assert.is_true(#out > N * 16 * KiB)
  end)

  it("allocates nothing while polling a connection that has no input", function()
    local p = pair()
    local c = p.client
    local bytes = allocated(function()
      for _ = 1, 10000 do
        local ok, _, code = c:read()
        assert(ok == nil and code == "wantread")
        assert(c:take() == "")
      end
    end)
    -- one short string per poll would be 160 KB; LuaJIT allocates about 1 KB once
    assert.is_true(bytes < 4096, ("%.0f bytes for 10,000 polls"):format(bytes))
  end)
end)

describe("the default cipher preference", function()
  -- wolfSSL here has no AES-NI: ChaCha20 moves about twice the bytes per second of
  -- AES-GCM (bench/ W3), so a server prefers it even when the client lists AES first
  local function negotiated(version, client_ciphers)
    local cctx = assert(wolfssl.context({ role = "client", ca = certs.path("ca.pem"), max_version = version,
      ciphers = client_ciphers }))
    local sctx = assert(wolfssl.context({ role = "server", certificate = certs.path("ec.pem"), key = certs.path("ec.key") }))
    local p = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost" }))
    return p.client:info().cipher
  end

  it("makes a server choose ChaCha20-Poly1305 over AES-GCM, in TLS 1.3 and 1.2", function()
    assert.equal("TLS_CHACHA20_POLY1305_SHA256", negotiated("tls1.3"))
    assert.equal("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", negotiated("tls1.2"))
  end)

  it("still lets a server fall back to AES-GCM for a client without ChaCha20", function()
    assert.equal("TLS_AES_128_GCM_SHA256", negotiated("tls1.3", "TLS13-AES128-GCM-SHA256"))
  end)

  it("keeps AES-GCM first in what a client offers (servers with AES-NI choose by their own order)", function()
    assert.matches("^TLS13%-AES128%-GCM", wolfssl.DEFAULT_CIPHERS)
    assert.matches("^TLS13%-CHACHA20", wolfssl.DEFAULT_SERVER_CIPHERS)
  end)
end)

describe("conn:release_handshake_data()", function()
  -- what wolfSSL_FreeArrays leaves working, measured on 5.5.4 (README, Performance)
  for _, version in ipairs({ "tls1.3", "tls1.2" }) do
    it(("frees key material but keeps data, Finished and resumption working (%s)"):format(version), function()
      local cctx = assert(wolfssl.context({ role = "client", ca = certs.path("ca.pem"), max_version = version }))
      local sctx = assert(wolfssl.context({ role = "server", certificate = certs.path("ec.pem"), key = certs.path("ec.key") }))
      local p = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost" }))
      assert.has_error(function() cctx:connection({ server_name = "localhost" }):release_handshake_data() end,
        "release_handshake_data() before the handshake is done")
      local fin = p.client:finished()
      assert.equal(32, #assert(p.client:export_keying_material("EXPORTER-test", 32)))
      assert.is_true(p.client:release_handshake_data())
      assert.is_true(p.server:release_handshake_data())
      assert.equal("after release", p:transfer("client", "after release"))
      assert.equal("and back", p:transfer("server", "and back"))
      assert.equal(fin, p.client:finished())
      local ok, err, code = p.client:export_keying_material("EXPORTER-test", 32)
      assert.is_nil(ok)
      assert.equal("unsupported", code)
      assert.matches("released by release_handshake_data", err, 1, true)
      assert.is_nil(p.client:client_random()) -- gone with the arrays
      if p.client.session then
        local sess = assert(p.client:session())
        local p2 = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost", client = { session = sess } }))
        assert.is_true(p2.client:info().resumed)
      end
    end)
  end
end)
