-- inspect_cert.lua FILE
--
-- Prints every certificate of a PEM file (or one DER certificate) as a Lua table, the
-- fields a Certificate object gives:  lua5.4 examples/inspect_cert.lua cert.pem
-- The output is a Lua chunk: load() it to get the tables back.
local wolfssl = require "wolfssl"

local path = arg[1]
if not path then
  io.stderr:write("usage: inspect_cert.lua FILE\n")
  os.exit(2)
end
local f, ferr = io.open(path, "rb")
if not f then
  io.stderr:write(ferr .. "\n")
  os.exit(1)
end
local data = f:read("*a")
f:close()

local list, err
if data:find("-----BEGIN", 1, true) then list, err = wolfssl.certificates(data)
else
  local c
  c, err = wolfssl.certificate(data)
  list = c and { c }
end
if not list then
  io.stderr:write(path .. ": " .. err .. "\n")
  os.exit(1)
end

local function fields(cert)
  local function names(n)
    local out = {}
    for i, e in ipairs(n) do out[i] = { name = e.name, value = e.value } end
    return out
  end
  return {
    subject = tostring(cert:subject()), subject_fields = names(cert:subject()),
    issuer = tostring(cert:issuer()), issuer_fields = names(cert:issuer()),
    serial = cert:serial(),
    not_before = cert:not_before(), not_after = cert:not_after(),
    alt_names = cert:alt_names(),
    sha256_fingerprint = cert:fingerprint("sha256"),
    spki_pin = cert:spki_pin(),
    public_key = cert:public_key(),
    signature_algorithm = cert:signature_algorithm(),
    is_ca = cert:is_ca(),
    key_usage = cert:key_usage(),
    extended_key_usage = cert:extended_key_usage(),
    extensions = cert:extensions(),
  }
end

-- A small pretty printer: keys sorted, lists inline when short, valid Lua throughout.
local function dump(v, indent, comment)
  indent = indent or ""
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) ~= "table" then return tostring(v) end
  local n = #v
  local keys = {}
  for k in pairs(v) do if type(k) ~= "number" or k > n or k < 1 then keys[#keys + 1] = k end end
  table.sort(keys)
  -- a table of plain values fits on one line when short
  local flat = true
  for _, x in pairs(v) do if type(x) == "table" then flat = false end end
  if flat then
    local parts = {}
    for i = 1, n do parts[#parts + 1] = dump(v[i]) end
    for _, k in ipairs(keys) do parts[#parts + 1] = k .. " = " .. dump(v[k]) end
    local line = #parts > 0 and ("{ " .. table.concat(parts, ", ") .. " }") or "{}"
    if #line <= 72 and not (comment and next(keys) and comment[keys[1]]) then return line end
  end
  local inner, lines = indent .. "  ", {}
  for i = 1, n do lines[#lines + 1] = inner .. dump(v[i], inner) .. "," end
  for _, k in ipairs(keys) do
    local line = inner .. k .. " = " .. dump(v[k], inner) .. ","
    if comment and comment[k] then line = line .. " -- " .. comment[k] end
    lines[#lines + 1] = line
  end
  return "{\n" .. table.concat(lines, "\n") .. "\n" .. indent .. "}"
end

local out = {}
for i, cert in ipairs(list) do
  local t = fields(cert)
  out[i] = "  " .. dump(t, "  ", {
    not_before = os.date("!%Y-%m-%d %H:%M:%S UTC", t.not_before),
    not_after = os.date("!%Y-%m-%d %H:%M:%S UTC", t.not_after),
  })
end
print("return {\n" .. table.concat(out, ",\n") .. ",\n}")
