-- Forked workers (OpenResty's, a pre-forking server's) do not share random numbers:
-- wolfSSL's global RNG, used before the fork, would otherwise hand every child the same
-- bytes, and so the same session-ticket IVs (wolfssl-notes.md item 10). The probe runs
-- in its own process, so the forks never touch this test runner.
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"
local peer = require "spec.helpers.peer"
local tmp = require "spec.helpers.tmp"

local LUA = os.getenv("LW_LUA") or "lua5.4"

describe("after fork()", function()
  it("two children draw different random bytes and ticket IVs from a context made before it", function()
    local proc = peer.spawn(("%s spec/helpers/fork_probe.lua %s %s"):format(LUA, tmp.quote(certs.path("ec.pem")),
      tmp.quote(certs.path("ec.key"))), { lua = true })
    assert.is_true(peer.wait(proc, 20), "the fork probe did not finish")
    peer.stop(proc)
    local out = peer.output(proc)
    local draws = {}
    for who, random, iv in out:gmatch("(%w+) (%x+) (%x+)\n") do
      draws[#draws + 1] = { who = who, random = random, iv = iv }
    end
    assert.matches("child1 exit 0", out, 1, true)
    assert.matches("child2 exit 0", out, 1, true)
    assert.equal(4, #draws, out) -- parent, child1, child2, parent again
    local seen = {}
    for _, d in ipairs(draws) do
      assert.equal(32, #d.random)
      assert.equal(32, #d.iv)
      assert.is_nil(seen[d.random], "random bytes repeated:\n" .. out)
      assert.is_nil(seen[d.iv], "ticket IV repeated:\n" .. out)
      seen[d.random], seen[d.iv] = true, true
    end
  end)

  it("wolfssl.random(n) gives n bytes and refuses silly sizes", function()
    assert.equal(0, #wolfssl.random(0))
    assert.equal(64, #wolfssl.random(64))
    assert.not_equal(wolfssl.random(16), wolfssl.random(16))
    assert.has_error(function() wolfssl.random(-1) end)
    assert.has_error(function() wolfssl.random(1e9) end)
  end)
end)
