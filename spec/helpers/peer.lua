-- Real TLS peers for the specs: openssl s_server / s_client (and any other command)
-- started on 127.0.0.1 with a free port, stopped by PID. Every wait is bounded.
local socket = require "socket"
local tmp = require "spec.helpers.tmp"

local M = {}
local q = tmp.quote
local running = {}

-- A port the kernel just handed out and released: free unless something races us.
function M.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local counter = 0

-- Start `cmd` (a shell command line) in the background. stdin comes from opts.input
-- (a string) or /dev/null; stdout+stderr go to a log file. Returns a process handle.
-- opts.lua: the command is a Lua interpreter loading this binding, so under `make asan`
-- it keeps the sanitizer runtime (without the leak check its own children would trip).
function M.spawn(cmd, opts)
  opts = opts or {}
  counter = counter + 1
  local log = tmp.path(("peer%d.log"):format(counter))
  local input = "/dev/null"
  if opts.input then input = tmp.write(("peer%d.in"):format(counter), opts.input) end
  local env = tmp.env
  if opts.lua then
    env = os.getenv("LD_PRELOAD") and "env ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 " or ""
  end
  -- The program stays a descendant of this process, under the popen: closing the pipe
  -- waits for it and so reaps it (where init does not reap orphans, detached children
  -- would pile up as zombies). `echo $$; exec` makes the PID we read the program's own.
  local line = "exec " .. env .. "sh -c " .. q(("echo $$; exec %s <%s >%s 2>&1"):format(cmd, q(input), q(log)))
  local p = io.popen(line)
  local pid = tonumber(p:read("*l"))
  assert(pid, "could not start: " .. cmd)
  local proc = { pid = pid, log = log, cmd = cmd, pipe = p }
  running[pid] = proc
  return proc
end

-- The process has exited: collect it (pclose waits for it, which is now immediate).
local function reap(proc)
  if proc.pipe then
    local p = proc.pipe
    proc.pipe = nil
    pcall(p.close, p)
  end
end

-- Running, and not a zombie waiting for a parent that may never reap it.
function M.alive(proc)
  local f = io.open("/proc/" .. proc.pid .. "/stat", "r")
  if not f then return false end
  local stat = f:read("*l") or ""
  f:close()
  local state = stat:match("^%d+ %b() (%a)")
  return state ~= nil and state ~= "Z" and state ~= "X"
end

-- Wait up to `timeout` seconds for the process to exit on its own.
function M.wait(proc, timeout)
  local deadline = socket.gettime() + (timeout or 5)
  while socket.gettime() < deadline do
    if not M.alive(proc) then
      reap(proc)
      return true
    end
    socket.sleep(0.02)
  end
  return false
end

function M.output(proc) return tmp.read(proc.log) or "" end

function M.stop(proc)
  if not proc or not running[proc.pid] then return end
  running[proc.pid] = nil
  if M.alive(proc) then
    os.execute(tmp.env .. "kill " .. proc.pid .. " 2>/dev/null")
    if not M.wait(proc, 3) then
      os.execute(tmp.env .. "kill -9 " .. proc.pid .. " 2>/dev/null")
      M.wait(proc, 3)
    end
  end
  reap(proc)
end

function M.stop_all()
  for _, proc in pairs(running) do M.stop(proc) end
end

-- Whatever a test forgot to stop is stopped when the suite ends, before the interpreter
-- closes its pipes (which would wait for those processes forever).
do
  local ok, busted = pcall(require, "busted")
  if ok and type(busted) == "table" and busted.subscribe then
    busted.subscribe({ "suite", "end" }, function() M.stop_all(); return nil, true end)
  end
end

-- Wait until something accepts TCP connections on 127.0.0.1:port.
function M.wait_port(port, proc, timeout)
  local deadline = socket.gettime() + (timeout or 10)
  while socket.gettime() < deadline do
    local c = socket.tcp()
    c:settimeout(0.2)
    local ok = c:connect("127.0.0.1", port)
    c:close()
    if ok then return true end
    if proc and not M.alive(proc) then
      error("peer exited before listening: " .. proc.cmd .. "\n" .. M.output(proc), 2)
    end
    socket.sleep(0.02)
  end
  error("timed out waiting for port " .. port .. (proc and ("\n" .. M.output(proc)) or ""), 2)
end

-- Wait until proc's output matches pattern (a server printing the port it listens on);
-- returns the first capture as a number when it is one. Raises, with the output, when
-- proc exits first or the time is up.
function M.wait_output(proc, pattern, timeout)
  local deadline = socket.gettime() + (timeout or 10)
  while true do
    local alive = M.alive(proc) -- before reading: what it printed before exiting counts
    local out = M.output(proc)
    local got = out:match(pattern)
    if got then return tonumber(got) or got end
    if not alive then error("peer exited before printing " .. pattern .. ": " .. proc.cmd .. "\n" .. out, 2) end
    if socket.gettime() > deadline then error("timed out waiting for " .. pattern .. "\n" .. out, 2) end
    socket.sleep(0.02)
  end
end

-- openssl s_server on a free port. opts: cert, key, args (extra string), input.
-- Returns the process handle with .port.
function M.s_server(opts)
  local port = M.free_port()
  local cmd = ("openssl s_server -accept 127.0.0.1:%d -cert %s -key %s %s")
    :format(port, q(opts.cert), q(opts.key), opts.args or "")
  local proc = M.spawn(cmd, opts)
  proc.port = port
  M.wait_port(port, proc)
  return proc
end

-- openssl s_client to 127.0.0.1:port with stdin from opts.input.
function M.s_client(port, opts)
  local cmd = ("openssl s_client -connect 127.0.0.1:%d %s"):format(port, opts.args or "")
  return M.spawn(cmd, opts)
end

-- A listening LuaSocket server on a free loopback port.
function M.listen()
  local server = assert(socket.bind("127.0.0.1", 0))
  local _, port = server:getsockname()
  return server, tonumber(port)
end

return M
