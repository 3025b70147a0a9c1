-- A man in the middle that damages real handshakes: every flight of a real TLS 1.2 or
-- 1.3 handshake between wolfssl.pair's two ends, taken as it is sent and mutated at
-- random (bits flipped, bytes replaced, cut short, repeated, record lengths bent)
-- before the peer gets it. Whatever arrives, each end answers with a code a script can
-- branch on, latches a fatal error, and never crashes. Deterministic: fixed seeds.
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"

local VALGRIND = os.getenv("WOLFSSL_SPEC_VALGRIND") ~= nil
local ROUNDS = VALGRIND and 60 or 400

local CODES = {
  wantread = true, closed = true, alert = true, handshake_failed = true, bad_input = true,
  verify_failed = true,
}

local function random_bytes(n)
  local t = {}
  for i = 1, n do t[i] = string.char(math.random(0, 255)) end
  return table.concat(t)
end

-- one mutation of `s` (never the identity for a non-empty flight)
local MUTATIONS = {
  function(s) -- flip one bit (arithmetic: Lua 5.1 has no bit operators)
    local i = math.random(1, #s)
    local b, bit = s:byte(i), 2 ^ math.random(0, 7)
    b = (b % (2 * bit) >= bit) and b - bit or b + bit
    return s:sub(1, i - 1) .. string.char(b) .. s:sub(i + 1)
  end,
  function(s) -- replace a run of bytes
    local i = math.random(1, #s)
    local n = math.random(1, 16)
    return s:sub(1, i - 1) .. random_bytes(n) .. s:sub(i + n)
  end,
  function(s) return s:sub(1, math.random(0, #s - 1)) end, -- cut short
  function(s) -- repeat a slice
    local i = math.random(1, #s)
    local j = math.random(i, math.min(#s, i + 200))
    return s:sub(1, j) .. s:sub(i, j) .. s:sub(j + 1)
  end,
  function(s) -- bend the first record's length
    if #s < 5 then return s .. "\0" end
    local len = math.random(0, 1) == 0 and math.random(0, 0x4800)
      or (s:byte(4) * 256 + s:byte(5) + math.random(-3, 3)) % 65536
    return s:sub(1, 3) .. string.char(math.floor(len / 256), len % 256) .. s:sub(6)
  end,
  function(s) return s .. random_bytes(math.random(1, 64)) end, -- trailing garbage
}

local function contexts(version)
  local sctx = assert(wolfssl.context({ role = "server", certificate = certs.path("ec.pem"), key = certs.path("ec.key"),
    min_version = version, max_version = version }))
  local cctx = assert(wolfssl.context({ role = "client", ca = certs.path("ca.pem"),
    min_version = version, max_version = version }))
  return cctx, sctx
end

-- Run a handshake whose `target`-th flight (counting both directions) is mutated.
-- Returns what each side ended with, and whether the mutation happened.
local function attacked_handshake(cctx, sctx, target)
  local p = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost", handshake = false }))
  local ends = { client = p.client, server = p.server }
  local peer = { client = "server", server = "client" }
  local result, flights, mutated = {}, 0, false
  for _ = 1, 12 do
    for _, side in ipairs({ "client", "server" }) do
      local conn = ends[side]
      if result[side] == nil then
        local ok, err, code = conn:handshake()
        if ok then
          result[side] = { true }
        elseif code ~= "wantread" then
          assert.is_true(CODES[code] == true, side .. ": unexpected code " .. tostring(code) .. " " .. tostring(err))
          assert.is_string(err)
          result[side] = { nil, err, code }
        end
      end
      local out = conn:take()
      if #out > 0 then
        flights = flights + 1
        if flights == target then
          out = MUTATIONS[math.random(1, #MUTATIONS)](out)
          mutated = true
        end
        if #out > 0 then ends[peer[side]]:feed(out) end
      end
    end
    if result.client and result.server then break end
  end
  -- after the handshake (or its failure) both ends still answer sensibly
  for side, conn in pairs(ends) do
    local r = result[side]
    if r and r[1] then
      local n = conn:write("after")
      assert.is_true(n == 5 or n == nil)
    elseif r then
      -- a fatal error is latched: the same triple again
      local ok, err, code = conn:handshake()
      assert.is_nil(ok)
      assert.equal(r[2], err)
      assert.equal(r[3], code)
      local _, _, rcode = conn:read()
      assert.equal(r[3], rcode)
    end
  end
  p:close()
  return result, mutated
end

describe("a handshake damaged in flight", function()
  for _, version in ipairs({ "tls1.3", "tls1.2" }) do
    it(("fails with a code a script can branch on, never a crash (%s)"):format(version), function()
      math.randomseed(version == "tls1.3" and 1303 or 1202)
      local cctx, sctx = contexts(version)
      local failed, survived = 0, 0
      for round = 1, ROUNDS do
        local target = (round % (version == "tls1.3" and 3 or 4)) + 1
        local result, mutated = attacked_handshake(cctx, sctx, target)
        if mutated then
          if result.client and result.client[1] and result.server and result.server[1] then
            survived = survived + 1
          else
            failed = failed + 1
          end
        end
      end
      -- integrity protection: almost every damaged handshake must fail
      assert.is_true(failed > ROUNDS * 0.8, ("only %d of %d damaged handshakes failed"):format(failed, ROUNDS))
    end)
  end

  it("still completes when nothing is damaged (the attacker is a faithful relay)", function()
    local cctx, sctx = contexts("tls1.3")
    local result = attacked_handshake(cctx, sctx, 0)
    assert.is_true(result.client[1])
    assert.is_true(result.server[1])
  end)
end)
