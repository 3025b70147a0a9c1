-- Two connections wired together in memory: a client and a server that talk through
-- the sans-I/O surface (take from one, feed to the other). Used by the specs, by
-- scripted test clients, and as the place to tamper with a flight of bytes.
--
-- Every batch of bytes one side produces between two flushes is a "flight". Hooks see
-- each flight before the other side does and decide what arrives: the same bytes
-- (observe), other bytes (modify), nothing (drop), several pieces in another order
-- (reorder, inject). `records()` / `join()` split a flight into TLS records and back.
local M = {}

local Pair = {}
Pair.__index = Pair
M.Pair = Pair

local function peer_of(side) return side == "client" and "server" or "client" end

---------------------------------------------------------------------------------------
-- Records (RFC 8446 5.1, RFC 5246 6.2.1): type(1) version(2) length(2) fragment.

M.CONTENT_TYPES = { [20] = "change_cipher_spec", [21] = "alert", [22] = "handshake", [23] = "application_data" }

-- bytes -> list of {type=, name=, version=, length=, payload=, bytes=}, rest: the records
-- in order and any trailing bytes that do not make a whole record.
function M.records(bytes)
  if type(bytes) ~= "string" then error("bad argument #1 to 'records' (string expected, got " .. type(bytes) .. ")", 2) end
  local list, pos = {}, 1
  while pos + 4 <= #bytes do
    local ty, v1, v2, l1, l2 = bytes:byte(pos, pos + 4)
    local len = l1 * 256 + l2
    if pos + 4 + len > #bytes then break end
    list[#list + 1] = {
      type = ty, name = M.CONTENT_TYPES[ty] or tostring(ty), version = v1 * 256 + v2, length = len,
      payload = bytes:sub(pos + 5, pos + 4 + len), bytes = bytes:sub(pos, pos + 4 + len),
    }
    pos = pos + 5 + len
  end
  return list, bytes:sub(pos)
end

-- list of records (tables from records(), or raw strings) -> bytes. A record table
-- whose payload was changed gets a fresh header with the new length.
function M.join(list)
  local parts = {}
  for i, r in ipairs(list) do
    if type(r) == "string" then
      parts[i] = r
    elseif type(r) == "table" and type(r.payload) == "string" then
      parts[i] = M.record(r.type, r.payload, r.version)
    else
      error("bad argument #1 to 'join' (list of records or strings expected)", 2)
    end
  end
  return table.concat(parts)
end

-- A record: record(type, payload [, version]) -> bytes (version defaults to 0x0303).
function M.record(ty, payload, version)
  version = version or 0x0303
  return string.char(ty, math.floor(version / 256), version % 256,
    math.floor(#payload / 256), #payload % 256) .. payload
end

-- A plaintext alert record, e.g. alert("handshake_failure") or alert(40, "warning").
local ALERTS = {
  close_notify = 0, unexpected_message = 10, bad_record_mac = 20, record_overflow = 22,
  handshake_failure = 40, bad_certificate = 42, certificate_expired = 45, illegal_parameter = 47,
  unknown_ca = 48, decode_error = 50, decrypt_error = 51, protocol_version = 70,
  internal_error = 80, unrecognized_name = 112,
}
function M.alert(desc, level)
  local code = type(desc) == "number" and desc or ALERTS[desc]
  if not code then error("unknown alert '" .. tostring(desc) .. "'", 2) end
  return M.record(21, string.char(level == "warning" and 1 or 2, code))
end

---------------------------------------------------------------------------------------
-- Flights and hooks

local Flight = {}
Flight.__index = Flight

-- A Pair may also be made with setmetatable({client=, server=}, Pair): fill in the rest.
local function state(self)
  if not self.hooks then
    self.hooks, self.n = {}, 0
    self.seq = { client = 0, server = 0 }
    self.done = self.done or { client = false, server = false }
  end
  return self
end
function Flight:records() return M.records(self.bytes) end

-- hook(fn): fn(flight) runs on every flight before it is delivered, in the order hooks
-- were added. flight = {from, to, n (1, 2, … over the pair), seq (per sending side),
-- phase ("handshake" | "data"), bytes, pair}. fn returns:
--   nil or true   deliver flight.bytes (which fn may have replaced)
--   false or ""   drop the flight
--   a string      deliver that instead
--   a list        deliver the concatenation of its strings (reorder, inject)
function Pair:hook(fn)
  if type(fn) ~= "function" then error("bad argument #1 to 'hook' (function expected, got " .. type(fn) .. ")", 2) end
  state(self)
  self.hooks[#self.hooks + 1] = fn
  return self
end

local function run_hooks(self, f)
  for _, fn in ipairs(self.hooks) do
    local r = fn(f)
    if r == false then return "" end
    if type(r) == "string" then
      f.bytes = r
    elseif type(r) == "table" then
      for i, piece in ipairs(r) do
        if type(piece) ~= "string" then error(("pair hook returned a list with a %s at %d"):format(type(piece), i), 3) end
      end
      f.bytes = table.concat(r)
    elseif r ~= nil and r ~= true then
      error("pair hook returned a " .. type(r) .. " (expected nil, boolean, string or list)", 3)
    end
    if f.bytes == "" then return "" end
  end
  return f.bytes
end

-- Give bytes to a side as if its peer had sent them (no hooks run).
function Pair:inject(to, bytes)
  if to ~= "client" and to ~= "server" then error("bad argument #1 to 'inject' ('client' or 'server' expected)", 2) end
  if type(bytes) ~= "string" then error("bad argument #2 to 'inject' (string expected)", 2) end
  if #bytes > 0 then return self[to]:feed(bytes) end
  return true
end

-- Move everything each side has written to the other, through the hooks. Returns the
-- number of bytes the senders produced (delivered or not).
function Pair:flush()
  state(self)
  local moved = 0
  for _, side in ipairs({ "client", "server" }) do
    local out = self[side]:take()
    if out and #out > 0 then
      moved = moved + #out
      if #self.hooks > 0 then
        self.n = self.n + 1
        self.seq[side] = self.seq[side] + 1
        local f = setmetatable({
          from = side, to = peer_of(side), n = self.n, seq = self.seq[side], bytes = out, pair = self,
          phase = (self.done.client and self.done.server) and "data" or "handshake",
        }, Flight)
        out = run_hooks(self, f)
      end
      if #out > 0 then self[peer_of(side)]:feed(out) end
    end
  end
  return moved
end

-- Drive both handshakes to completion. true | nil, message, code, side (the side that
-- failed first). After a failure the other side is given the failing side's last bytes
-- (its alert), so p.errors holds what each side saw: {message, code} per side.
function Pair:handshake(max_rounds)
  local done = state(self).done
  self.errors = {}
  for _ = 1, max_rounds or 100 do
    for _, side in ipairs({ "client", "server" }) do
      if not done[side] then
        local ok, err, code = self[side]:handshake()
        if ok then
          done[side] = true
        elseif code ~= "wantread" then
          self.errors[side] = { err, code }
          self:flush()
          local other = peer_of(side)
          -- the other side may have finished already (a TLS 1.2 server after its
          -- Finished): then the failing side's alert shows up in its next read
          local ook, oerr, ocode
          if done[other] then ook, oerr, ocode = self[other]:read() else ook, oerr, ocode = self[other]:handshake() end
          if not ook then self.errors[other] = { oerr, ocode } end
          return nil, err, code, side
        end
      end
      self:flush()
    end
    if done.client and done.server then return true end
  end
  return nil, "handshake did not complete", "handshake_failed", "client"
end

local function new_pair(client, server)
  return state(setmetatable({ client = client, server = server }, Pair))
end
M.new = new_pair

-- wolfssl.pair(client_ctx, server_ctx [, opts]) -> Pair | nil, message, code, side, pair
-- opts: server_name (client), client = {connection options}, server = {...},
--       hook = fn or hooks = {fn, ...} (see Pair:hook), handshake = false to leave the
--       handshake to the caller, max_rounds.
function M.pair(cctx, sctx, opts)
  opts = opts or {}
  local copts = {}
  for k, v in pairs(opts.client or {}) do copts[k] = v end
  if opts.server_name and copts.server_name == nil then copts.server_name = opts.server_name end
  local client, err = cctx:connection(copts)
  if not client then return nil, err, "bad_input", "client" end
  local server, serr = sctx:connection(opts.server)
  if not server then return nil, serr, "bad_input", "server" end
  local p = new_pair(client, server)
  if opts.hook then p:hook(opts.hook) end
  for _, fn in ipairs(opts.hooks or {}) do p:hook(fn) end
  if opts.handshake ~= false then
    local ok, herr, code, side = p:handshake(opts.max_rounds)
    if not ok then return nil, herr, code, side, p end
  end
  return p
end

-- Send data from one side and read all of it on the other.
function Pair:transfer(from, data)
  local to = self[peer_of(from)]
  local n, err, code = self[from]:write(data)
  if not n then return nil, err, code end
  self:flush()
  local parts = {}
  local got = 0
  while got < #data do
    local chunk, rerr, rcode = to:read()
    if not chunk then
      if rcode == "wantread" and self:flush() > 0 then
        -- the receiver had something to say first (a ticket, a key update answer)
      elseif rcode == "wantread" then
        break
      else
        return nil, rerr, rcode
      end
    else
      parts[#parts + 1] = chunk
      got = got + #chunk
    end
  end
  return table.concat(parts)
end

function Pair:close()
  self.client:close()
  self.server:close()
end

return M
