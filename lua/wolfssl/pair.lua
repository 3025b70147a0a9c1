-- Two connections wired together in memory: a client and a server that talk through
-- the sans-I/O surface (take from one, feed to the other). Used by the specs, by
-- scripted test clients, and as the place to tamper with a flight of bytes.
local M = {}

local Pair = {}
Pair.__index = Pair
M.Pair = Pair

local function peer_of(side) return side == "client" and "server" or "client" end

-- Move everything each side has written to the other. Returns the bytes moved.
function Pair:flush()
  local moved = 0
  for _, side in ipairs({ "client", "server" }) do
    local out = self[side]:take()
    if out and #out > 0 then
      self[peer_of(side)]:feed(out)
      moved = moved + #out
    end
  end
  return moved
end

-- Drive both handshakes to completion. true | nil, message, code, side (the side that
-- failed first). After a failure the other side is given the failing side's last bytes
-- (its alert), so p.errors holds what each side saw.
function Pair:handshake(max_rounds)
  local done = { client = false, server = false }
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
          if not done[other] then
            local ook, oerr, ocode = self[other]:handshake()
            if not ook then self.errors[other] = { oerr, ocode } end
          end
          return nil, err, code, side
        end
      end
      self:flush()
    end
    if done.client and done.server then return true end
  end
  return nil, "handshake did not complete", "handshake_failed", "client"
end

-- wolfssl.pair(client_ctx, server_ctx [, opts]) -> Pair | nil, message, code, side, pair
-- opts: server_name (client), client = {connection options}, server = {...},
--       handshake = false to leave the handshake to the caller.
function M.pair(cctx, sctx, opts)
  opts = opts or {}
  local copts = {}
  for k, v in pairs(opts.client or {}) do copts[k] = v end
  if opts.server_name and copts.server_name == nil then copts.server_name = opts.server_name end
  local client, err = cctx:connection(copts)
  if not client then return nil, err, "bad_input", "client" end
  local server, serr = sctx:connection(opts.server)
  if not server then return nil, serr, "bad_input", "server" end
  local p = setmetatable({ client = client, server = server }, Pair)
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
