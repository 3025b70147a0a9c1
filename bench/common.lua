-- What the Lua implementations of the benchmark share with bench/raw.c: the command
-- line (`IMPL server|client PORT MODE [options]`), the workload protocol and the output
-- ("ready PORT" from a server, "result VALUE UNIT" from a client or an idle server).
local socket = require "socket"

local M = { CHUNK = 16384 }

local NUMERIC = { duration = true, bytes = true, conns = true, base = true }

function M.args(argv)
  local o = {
    role = argv[1], port = tonumber(argv[2]), mode = argv[3],
    tls = "1.3", group = "X25519", duration = 2, bytes = 1048576, conns = 1000, base = 100,
    transport = "fd",
  }
  local i = 4
  while argv[i] do
    local k, v = argv[i]:match("^%-%-(.*)$"), argv[i + 1]
    if k == "trace" or k == "release" then o[k] = true; i = i + 1
    else
      if not k or v == nil then error("bad option " .. tostring(argv[i])) end
      o[k] = NUMERIC[k] and assert(tonumber(v), k) or v
      i = i + 2
    end
  end
  assert(o.role == "server" or o.role == "client", "role")
  return o
end

function M.rss()
  local f = assert(io.open("/proc/self/statm"))
  local _, res = f:read("*n", "*n")
  f:close()
  return res * 4096
end

function M.lua_kb()
  collectgarbage()
  collectgarbage()
  return collectgarbage("count")
end

-- The Lua heap one LuaSocket TCP object takes (its userdata carries an 8 KiB receive
-- buffer): every Lua implementation pays it per connection, the binding does not own it.
function M.socket_bytes()
  local t, before = {}, M.lua_kb()
  for i = 1, 100 do t[i] = socket.tcp() end
  local after = M.lua_kb()
  for i = 1, 100 do t[i]:close() end
  return (after - before) * 1024 / 100
end

function M.listen(port)
  local s = assert(socket.bind("127.0.0.1", port, 1024))
  local _, p = s:getsockname()
  io.write("ready ", p, "\n")
  io.flush()
  return s
end

function M.connect(port)
  local s = assert(socket.connect("127.0.0.1", port))
  s:setoption("tcp-nodelay", true)
  return s
end

function M.accept(ls)
  local s = assert(ls:accept())
  s:setoption("tcp-nodelay", true)
  return s
end

M.now = socket.gettime

function M.result(value, unit)
  io.write(("result %.2f %s\n"):format(value, unit))
  io.flush()
end

-- this process's CPU seconds for `count` units of work (handshakes, MB): the driver
-- adds the server's and reports CPU per unit, which load from elsewhere barely moves
function M.cpu(seconds, count)
  io.write(("cpu %.6f count %.3f\n"):format(seconds, count))
  io.flush()
end

M.BLOCK = ("x"):rep(M.CHUNK)

-- The client loop of W1/W2: handshakes (with a one-byte ping/pong, which proves both
-- ends finished) for o.duration seconds. `one(session)` makes one connection and returns
-- resumed, next_session.
function M.handshakes(o, one)
  local session, resumed, count = nil, 0, 0
  if o.mode == "resume" then _, session = one(nil) end
  local t0, c0, t = M.now(), os.clock(), nil
  repeat
    local r, s = one(session)
    if o.mode == "resume" then session = s; if r then resumed = resumed + 1 end end
    count = count + 1
    t = M.now()
  until t - t0 >= o.duration
  if o.mode == "resume" and resumed ~= count then
    error(("only %d of %d handshakes resumed"):format(resumed, count))
  end
  M.result(count / (t - t0), "hs/s")
  M.cpu(os.clock() - c0, count)
end

return M
