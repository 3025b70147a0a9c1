-- The API reference cannot rot: every public name the code defines is mentioned in
-- docs/API.md. The surface is enumerated from the loaded modules (module tables, the
-- methods tables of every class, the registered context options and callbacks, the
-- drivers), not from a list kept by hand, so a new method or option fails this spec
-- until it is documented.
local wolfssl = require "wolfssl"
-- loaded first so that the LuaSec names it adds to Certificate are always there
local ssl = require "wolfssl.socket"
local https = require "wolfssl.https"
local wngx = require "wolfssl.ngx"
local pair = require "wolfssl.pair"
local pki = require "wolfssl.pki"
local iana = require "wolfssl.iana"
local trace = wolfssl.trace

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local API = read("docs/API.md")

-- The text of the "## " section whose heading contains `title` (plain text).
local function section(title)
  local start
  for pos, heading in API:gmatch("()\n## ([^\n]*)") do
    if start then return API:sub(start, pos) end
    if heading:find(title, 1, true) then start = pos end
  end
  assert(start, "docs/API.md has no section " .. title)
  return API:sub(start)
end

-- `token` stands in text as a whole name: not glued to identifier characters.
local function mentions(text, token)
  local init = 1
  while true do
    local i, j = text:find(token, init, true)
    if not i then return false end
    local before, after = text:sub(i - 1, i - 1), text:sub(j + 1, j + 1)
    if not (i > 1 and before:match("[%w_]")) and not after:match("[%w_]") then return true end
    init = j + 1
  end
end

-- Public names of a table: no metamethods, no _private extension points.
local function public(t, keep_private)
  local out = {}
  for k in pairs(t) do
    if type(k) == "string" and k:sub(1, 2) ~= "__" and (keep_private or k:sub(1, 1) ~= "_") then
      out[#out + 1] = k
    end
  end
  table.sort(out)
  return out
end

-- Fails naming every name of `names` that `text` does not mention as prefix .. name.
local function documented(names, prefix, text, where)
  local missing = {}
  for _, n in ipairs(names) do
    if not mentions(text or API, prefix .. n) then missing[#missing + 1] = prefix .. n end
  end
  assert(#missing == 0, ("docs/API.md%s does not mention: %s"):format(where and (" (" .. where .. ")") or "",
    table.concat(missing, ", ")))
end

describe("docs/API.md", function()
  it("mentions every function and value of the wolfssl module", function()
    local names = public(wolfssl)
    names[#names + 1] = "_VERSION"
    for _, driver in ipairs({ "socket", "https", "ngx" }) do names[#names + 1] = driver end -- loaded on first use
    documented(names, "wolfssl.")
  end)

  it("mentions every method of Context, Connection, Certificate and Session", function()
    documented(public(wolfssl.Context), "ctx:")
    documented(public(wolfssl.Connection), "conn:")
    documented(public(wolfssl.Certificate), "cert:")
    documented(public(wolfssl.Session), "session:")
  end)

  it("mentions every context option, callback and connection option", function()
    documented(public(wolfssl._options), "`")
    documented(public(wolfssl._handlers), "`")
    documented(public(wolfssl._connection_options), "`")
    -- each callback in the table of callbacks, with its contract
    documented(public(wolfssl._handlers), "| `", section("Callbacks"), "Callbacks")
  end)

  it("mentions every function of wolfssl.trace, wolfssl.iana and wolfssl.pki", function()
    documented(public(trace), "trace.", section("Trace and the ClientHello hook"), "Trace")
    documented(public(iana), "iana.")
    documented(public(pki), "pki.", section("wolfssl.pki"), "wolfssl.pki")
    documented(public(pki.Authority), "authority:", section("wolfssl.pki"), "wolfssl.pki")
    documented(public(pki.Key), "key:", section("wolfssl.pki"), "wolfssl.pki")
  end)

  it("mentions every function and method of wolfssl.pair", function()
    local s = section("`wolfssl.pair`")
    documented(public(pair), "pair.", s, "wolfssl.pair")
    documented(public(pair.Pair), "p:", s, "wolfssl.pair")
  end)

  it("mentions every function and method of the drivers, in their sections", function()
    local s = section("`wolfssl.socket`")
    documented(public(ssl, true), "ssl.", s, "wolfssl.socket")
    documented(public(ssl.SSL), "conn:", s, "wolfssl.socket")
    documented(public(ssl.Context), "ctx:", s, "wolfssl.socket")
    documented(public(https, true), "https.", section("`wolfssl.https`"), "wolfssl.https")
    s = section("`wolfssl.ngx`")
    documented(public(wngx), "wngx.", s, "wolfssl.ngx")
    documented(public(wngx.TLS), "tls:", s, "wolfssl.ngx")
  end)

  it("mentions every function of the C core", function()
    documented(public(wolfssl.core), "core.", section("wolfssl.core"), "wolfssl.core")
  end)

  it("links only to sections that exist", function()
    local anchors = {}
    for heading in ("\n" .. API):gmatch("\n#+ ([^\n]*)") do
      local a = heading:lower():gsub("[^%w%- ]", ""):gsub(" ", "-")
      anchors[a] = true
    end
    local broken = {}
    for a in API:gmatch("%]%(#([^)]+)%)") do
      if not anchors[a] then broken[#broken + 1] = a end
    end
    assert(#broken == 0, "broken links in docs/API.md: #" .. table.concat(broken, ", #"))
  end)
end)
