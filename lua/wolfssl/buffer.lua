-- wolfssl.buffer: the plaintext buffer of the drivers (wolfssl.socket, wolfssl.ngx) and
-- the receive patterns they share with LuaSocket and OpenResty's cosockets.
--
-- Both drivers read with "*l" / "l" (a line: up to LF, the LF dropped and every CR
-- dropped, as LuaSocket's buffer does), "*a" / "a" (until the peer closes) and a number
-- of bytes. What differs stays in each driver: LuaSec's `prefix` argument and its
-- "*a" that fails when nothing at all arrived, against the cosocket's "*a" that returns
-- "" then, and each API's wording of a bad pattern.
local M = {}

local Buffer = {}
Buffer.__index = Buffer

-- The bytes are s[pos ..]: taking a few does not copy the rest.
function M.new() return setmetatable({ s = "", pos = 1 }, Buffer) end

function Buffer:avail() return #self.s - self.pos + 1 end

function Buffer:append(d)
  if self.pos > 1 then
    self.s, self.pos = self.s:sub(self.pos) .. d, 1
  else
    self.s = self.s .. d
  end
end

function Buffer:take(n)
  local s = self.s:sub(self.pos, self.pos + n - 1)
  self.pos = self.pos + #s
  if self.pos > #self.s then self.s, self.pos = "", 1 end
  return s
end

-- pattern -> "l" | "a" | "n", or nil for a pattern neither API knows
function M.kind(pattern)
  if type(pattern) == "number" then return "n" end
  if pattern == "*l" or pattern == "l" then return "l" end
  if pattern == "*a" or pattern == "a" then return "a" end
  return nil
end

-- receive(kind, n, fill): a line, n bytes, or everything until fill() fails.
-- fill() adds bytes to the buffer and returns true, or nil, err [, code].
-- -> data | nil, partial, err, code
function Buffer:receive(kind, n, fill)
  local parts = {} -- "a": what has arrived so far, concatenated once
  while true do
    if kind == "l" then
      local i = self.s:find("\n", self.pos, true)
      if i then return (self:take(i - self.pos + 1):sub(1, -2):gsub("\r", "")) end
    elseif kind == "n" then
      if self:avail() >= n then return self:take(n) end
    else
      parts[#parts + 1] = self:take(self:avail())
    end
    local ok, err, code = fill()
    if not ok then
      local partial = table.concat(parts) .. self:take(self:avail())
      if kind == "l" then partial = partial:gsub("\r", "") end
      return nil, partial, err, code
    end
  end
end

return M
