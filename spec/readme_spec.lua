-- The README's Lua snippets are correct against the current API: every one compiles,
-- and those marked `<!-- runs in spec/readme_spec.lua -->` run, in an environment that
-- gives them what the surrounding prose assumes (client_ctx, server_ctx, a connection,
-- a PIN, cert.pem). Where a runnable snippet says what it prints
-- (`print(x)  --> text`, "..." standing for anything), the printed line must say it.
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"
local contexts = require "spec.helpers.ctx"
local tmp = require "spec.helpers.tmp"

local MARK = "<!-- runs in spec/readme_spec.lua -->"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local README = read("README.md")

-- {code, line, runs} for every ```lua block
local function snippets(text)
  local out = {}
  for pos, code in text:gmatch("()```lua\n(.-)```") do
    local before = text:sub(1, pos - 1)
    local line = select(2, before:gsub("\n", "")) + 1
    local runs = before:match("([^\n]*)\n$") == MARK
    out[#out + 1] = { code = code, line = line, runs = runs }
  end
  return out
end

local function compile(code, name, env)
  if setfenv then -- Lua 5.1 / LuaJIT
    local fn, err = loadstring(code, name)
    if fn and env then setfenv(fn, env) end
    return fn, err
  end
  return load(code, name, "t", env)
end

-- Top-level print(...) lines (prints in callbacks are indented and not counted) with a
-- "--> expected" comment, continued on following "-->" lines
local function expectations(code)
  local out, last, n = {}, nil, 0
  for line in (code .. "\n"):gmatch("([^\n]*)\n") do
    if line:match("^print%b()") then n = n + 1 end
    local call, want = line:match("^(print%b())%s*%-%->%s*(.-)%s*$")
    local more = line:match("^%s*%-%->%s*(.-)%s*$")
    if call then
      last = { want = want, n = n }
      out[#out + 1] = last
    elseif more and last then
      last.want = last.want .. " " .. more
    else
      last = nil
    end
  end
  return out
end

local function squash(s) return (s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")) end

-- every piece between "..." appears in order
local function says(got, want)
  local pos = 1
  for piece in (squash(want) .. "..."):gmatch("(.-)%.%.%.") do
    piece = squash(piece)
    if piece ~= "" then
      local i, j = squash(got):find(piece, pos, true)
      if not i then return false end
      pos = j + 1
    end
  end
  return true
end

-- What the prose around the runnable snippets assumes.
local function environment(printed)
  local env = setmetatable({}, { __index = _G })
  env.print = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    printed[#printed + 1] = table.concat(parts, "\t")
  end
  env.wolfssl = wolfssl -- "local wolfssl = require \"wolfssl\"" opens the API section
  env.client_ctx = contexts.client()
  env.server_ctx = contexts.server()
  env.conn = contexts.localhost_client():connection()
  env.PIN = wolfssl.certificate(certs.read("ec.pem")):spki_pin()
  local files = { ["cert.pem"] = certs.path("ec.pem") }
  env.io = setmetatable({
    open = function(name, mode) return io.open(files[name] or name, mode) end,
    stdout = { write = function(_, ...) env.print(...) end },
  }, { __index = io })
  -- wolfssl.pki's files go to the specs' private directory, not the working tree
  env.require = function(name)
    local m = require(name)
    if name ~= "wolfssl.pki" then return m end
    return setmetatable({ write = function(path, data) return m.write(tmp.path(path), data) end }, { __index = m })
  end
  return env
end

describe("README.md", function()
  local all = snippets(README)

  it("has Lua snippets, some of them runnable", function()
    local runs = 0
    for _, s in ipairs(all) do if s.runs then runs = runs + 1 end end
    assert.is_true(#all >= 10)
    assert.is_true(runs >= 5, "only " .. runs .. " snippets marked " .. MARK)
  end)

  it("links only to sections and files that exist", function()
    local anchors = {}
    for heading in ("\n" .. README):gmatch("\n#+ ([^\n]*)") do
      anchors[(heading:lower():gsub("[^%w%- ]", ""):gsub(" ", "-"))] = true
    end
    local API = read("docs/API.md")
    local api_anchors = {}
    for heading in ("\n" .. API):gmatch("\n#+ ([^\n]*)") do
      api_anchors[(heading:lower():gsub("[^%w%- ]", ""):gsub(" ", "-"))] = true
    end
    local broken = {}
    for target in README:gmatch("%]%(([^)]+)%)") do
      local file, anchor = target:match("^([^#]*)#?(.*)$")
      local ok
      if file == "" then ok = anchors[anchor]
      elseif file == "docs/API.md" then ok = anchor == "" or api_anchors[anchor]
      else ok = io.open(file) ~= nil end
      if not ok then broken[#broken + 1] = target end
    end
    assert(#broken == 0, "broken links in README.md: " .. table.concat(broken, ", "))
  end)

  for _, s in ipairs(all) do
    it(("snippet at line %d compiles"):format(s.line), function()
      local fn, err = compile(s.code, "=README.md:" .. s.line)
      assert(fn, err)
    end)
    if s.runs then
      it(("snippet at line %d runs and prints what it says"):format(s.line), function()
        local printed = {}
        local fn = assert(compile(s.code, "=README.md:" .. s.line, environment(printed)))
        fn()
        local wants = expectations(s.code)
        for _, e in ipairs(wants) do
          local got = printed[e.n]
          assert(got and says(got, e.want),
            ("README.md:%d: printed %q, the snippet says %q"):format(s.line, tostring(got), e.want))
        end
      end)
    end
  end
end)
