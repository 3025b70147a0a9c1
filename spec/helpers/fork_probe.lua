-- Run as its own process by spec/fork_spec.lua: reproduces the fork hazard of
-- wolfssl-notes.md item 10. The parent uses wolfSSL's global RNG (a random draw and a
-- session ticket, whose IV comes from it), then forks two children; each child draws
-- random bytes and issues a ticket with the parent's context. Prints one line per
-- process: "<who> <random hex> <ticket IV hex>".
--   lua fork_probe.lua CERT KEY
local wolfssl = require "wolfssl"
local core = wolfssl.core

local NAME, SECRET = "fork-probe-name!", ("f"):rep(32)
local sctx = assert(wolfssl.context({
  role = "server", certificate = arg[1], key = arg[2], max_version = "tls1.2",
  on_ticket_key = function(conn, name)
    if name == nil then return NAME, SECRET end
    return name == NAME and SECRET or nil
  end,
}))
local cctx = assert(wolfssl.context({ role = "client", verify = "none", max_version = "tls1.2" }))

local function hex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end

-- the IV follows the key name in the ticket, which the exported session carries
local function draw()
  local r = wolfssl.random(16)
  local p = assert(wolfssl.pair(cctx, sctx))
  local bytes = assert(p.client:session()):export()
  local at = assert(bytes:find(NAME, 1, true), "no ticket in the session")
  p:close()
  return hex(r) .. " " .. hex(bytes:sub(at + #NAME, at + #NAME + 15))
end

print("parent " .. draw())
io.stdout:flush()
local pids = {}
for i = 1, 2 do
  local pid = core._test_fork()
  if pid == 0 then
    local ok, line = pcall(draw)
    print(ok and ("child" .. i .. " " .. line) or ("child" .. i .. " error " .. tostring(line)))
    core._test_exit(ok and 0 or 1)
  end
  pids[i] = pid
end
for i = 1, 2 do
  print(("child%d exit %d"):format(i, core._test_wait(pids[i])))
end
print("parent " .. draw())
