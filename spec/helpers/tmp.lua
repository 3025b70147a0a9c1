-- A private temporary directory for one test run, removed when the run's Lua state
-- closes. Nothing secret is ever written to the repository.
local M = {}

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
M.quote = sh_quote

-- Child processes must not inherit the sanitizer runtime `make asan` preloads into the
-- interpreter: their own leaks are not ours, and LeakSanitizer would abort them.
M.env = "env -u LD_PRELOAD -u ASAN_OPTIONS -u LSAN_OPTIONS -u UBSAN_OPTIONS "

local p = io.popen(M.env .. "mktemp -d /tmp/lua-wolfssl-spec.XXXXXX")
M.dir = p:read("*l")
p:close()
assert(M.dir and M.dir:find("^/tmp/lua%-wolfssl%-spec%."), "mktemp failed")

-- remove the directory when the state is collected (newproxy for Lua 5.1/LuaJIT)
local function cleanup() os.execute(M.env .. "rm -rf " .. sh_quote(M.dir)) end
if newproxy then
  M._sentinel = newproxy(true)
  getmetatable(M._sentinel).__gc = cleanup
else
  M._sentinel = setmetatable({}, { __gc = cleanup })
end

function M.path(name) return M.dir .. "/" .. name end

function M.write(name, data)
  local path = M.path(name)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  return path
end

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- Run a shell command; returns its combined output, or raises with it on failure.
function M.run(cmd)
  local out = M.path("run.out")
  local ok = os.execute(M.env .. "sh -c " .. sh_quote(cmd) .. " >" .. sh_quote(out) .. " 2>&1")
  local text = M.read(out) or ""
  if ok ~= true and ok ~= 0 then error("command failed: " .. cmd .. "\n" .. text, 2) end
  return text
end

return M
