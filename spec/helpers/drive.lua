-- Drive a memory-transport Connection over a LuaSocket TCP socket: the smallest
-- possible driver (take -> send, receive -> feed), bounded by a timeout.
local socket = require "socket"

local M = {}
local unpack = table.unpack or unpack

local function flush(conn, sock)
  local out = conn:take()
  if #out > 0 then assert(sock:send(out)) end
end

-- Feed whatever the socket has within `timeout`; false once the peer closed.
local function fill(conn, sock, timeout)
  local r = socket.select({ sock }, nil, timeout)
  if #r == 0 then return nil, "timeout" end
  sock:settimeout(0)
  local data, err, partial = sock:receive(65536)
  data = data or partial
  if data and #data > 0 then conn:feed(data) end
  if err == "closed" then conn:feed_eof() end
  return true
end

-- Repeat conn[op](conn, ...) until it stops asking for input. Returns its results.
function M.call(conn, sock, op, timeout, ...)
  local deadline = socket.gettime() + (timeout or 5)
  while true do
    local r = { conn[op](conn, ...) }
    flush(conn, sock)
    if r[1] ~= nil or r[3] ~= "wantread" then return unpack(r, 1, 3) end
    local left = deadline - socket.gettime()
    if left <= 0 then return nil, "timeout", "timeout" end
    local ok = fill(conn, sock, left)
    if not ok then return nil, "timeout", "timeout" end
  end
end

-- Read until `n` bytes arrived (or `pattern` matches), the peer closes, or timeout.
function M.read_all(conn, sock, until_fn, timeout)
  local parts = {}
  local deadline = socket.gettime() + (timeout or 5)
  while true do
    local left = deadline - socket.gettime()
    if left <= 0 then return table.concat(parts), "timeout" end
    local data, err, code = M.call(conn, sock, "read", left)
    if not data then return table.concat(parts), code, err end
    parts[#parts + 1] = data
    if until_fn and until_fn(table.concat(parts)) then return table.concat(parts) end
  end
end

return M
