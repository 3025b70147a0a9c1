-- wolfssl.ladder: a traced exchange drawn as a two-column sequence diagram, like the step
-- lists of TLS tutorials but from a real handshake; and attach(), the one-line way to
-- trace a context or a connection. wolfssl.trace re-exports all of it.
local iana = require "wolfssl.iana"

local M = {}
local concat = table.concat

-- wolfssl.trace requires this module while it loads: decode is looked up when used
local function decode(m) return require("wolfssl.trace").decode(m) end
-- One line per message, client on the left, server on the right.

local TITLES = {
  client_hello = "ClientHello", server_hello = "ServerHello", hello_retry_request = "HelloRetryRequest",
  encrypted_extensions = "EncryptedExtensions", certificate = "Certificate",
  certificate_request = "CertificateRequest", server_key_exchange = "ServerKeyExchange",
  server_hello_done = "ServerHelloDone", client_key_exchange = "ClientKeyExchange",
  certificate_verify = "CertificateVerify", finished = "Finished", new_session_ticket = "NewSessionTicket",
  key_update = "KeyUpdate", change_cipher_spec = "ChangeCipherSpec", alert = "Alert",
  application_data = "ApplicationData", hello_request = "HelloRequest", end_of_early_data = "EndOfEarlyData",
  certificate_status = "CertificateStatus", encrypted_handshake_message = "EncryptedHandshake",
  encrypted_alert = "EncryptedAlert", malformed = "(malformed)", heartbeat = "Heartbeat",
}
M.TITLES = TITLES

local NAME_W, ARROW_W = 21, 16

local function pad(s, n) return #s >= n and s or s .. (" "):rep(n - #s) end

local function list_text(l, max)
  local out = {}
  for _, v in ipairs(l or {}) do
    if not iana.is_grease(v) then out[#out + 1] = tostring(v) end
    if max and #out == max then out[#out + 1] = "..."; break end
  end
  return concat(out, ",")
end

local function subject_of(entry)
  local c = entry and entry.certificate
  if c and c.subject then
    local ok, s = pcall(function() return tostring(c:subject()) end)
    if ok then return s end
  end
  return entry and ("%d bytes"):format(#entry.cert_data) or "?"
end

-- The key fields of one message, as text. `state` carries what a later message needs
-- (the ClientHello's session id, to tell a TLS 1.2 resumption).
local function details(m, d, state)
  local t = m.type
  if m.error then return m.error end
  if m.encrypted then return ("encrypted, %d bytes (not opened)"):format(m.length or 0) end
  if t == "alert" then return ("%s %s"):format(m.level or "?", tostring(m.description or m.alert)) end
  -- TLS 1.2: a server that goes from its ServerHello straight to ChangeCipherSpec resumed
  -- (RFC 5246 7.3; with a ticket, RFC 5077 3.1, the session id need not be echoed)
  if t == "change_cipher_spec" and state.prev == "server server_hello" and m.version ~= "TLSv1.3" then
    return "resumed"
  end
  if t == "application_data" then return ("%d bytes"):format(m.length or 0) end
  if not d then return "" end
  local parts = {}
  local function add(s) if s and s ~= "" then parts[#parts + 1] = s end end
  local x = d.extensions or {}
  if t == "client_hello" then
    state.session_id = d.session_id
    add(list_text(d.versions))
    if d.server_name then add("sni=" .. d.server_name) end
    if d.alpn then add("alpn=" .. list_text(d.alpn)) end
    if x.key_share then
      local g = {}
      for _, e in ipairs(x.key_share) do g[#g + 1] = e.group end
      add("share=" .. list_text(g))
    end
    if x.pre_shared_key then add("psk offered") end
    if x.session_ticket and #x.session_ticket > 0 then add("ticket offered") end
  elseif t == "server_hello" then
    add(d.version)
    add(tostring(d.cipher_suite))
    if x.key_share then add(tostring(x.key_share.group)) end
    if x.alpn then add("alpn=" .. list_text(x.alpn)) end
    if x.pre_shared_key or (d.version ~= "TLSv1.3" and #d.session_id > 0 and d.session_id == state.session_id) then
      add("resumed")
    end
  elseif t == "hello_retry_request" then
    add(tostring(d.cipher_suite))
    if x.key_share then add("group=" .. tostring(x.key_share.selected_group)) end
    if x.cookie then add("cookie") end
  elseif t == "encrypted_extensions" then
    if x.alpn then add("alpn=" .. list_text(x.alpn)) end
    if x.server_name then add("sni accepted") end
    if x.early_data then add("early data accepted") end
  elseif t == "certificate" then
    local l = d.certificate_list or {}
    if #l == 0 then add("(no certificate)")
    else add(subject_of(l[1]) .. (#l > 1 and (" (+%d)"):format(#l - 1) or "")) end
  elseif t == "certificate_request" then
    add(list_text(x.signature_algorithms or d.supported_signature_algorithms, 3))
  elseif t == "server_key_exchange" then
    add(d.named_curve and tostring(d.named_curve) or d.dh_p and ("DH %d bits"):format(#d.dh_p * 8))
    add(d.algorithm and tostring(d.algorithm))
  elseif t == "certificate_verify" then
    add(tostring(d.algorithm))
  elseif t == "new_session_ticket" then
    local life = d.ticket_lifetime or d.ticket_lifetime_hint
    if life then add(("lifetime %ds"):format(life)) end
  elseif t == "key_update" then
    add(d.request_update)
  end
  return concat(parts, "  ")
end

local function arrow(m, right)
  local ch = m.encrypted and "~" or m.protected and "=" or "-"
  local body = ch:rep(ARROW_W - 1)
  return right and body .. ">" or "<" .. body
end

function M.ladder_header()
  return pad("client", NAME_W) .. (" "):rep(ARROW_W + 2) .. "server"
end

-- One line for one event; state: a table shared by the lines of one exchange.
function M.ladder_line(m, state)
  state = state or {}
  local from_client = (m.role == "client") == (m.direction == "sent")
  local title = TITLES[m.type] or tostring(m.type)
  local d
  if m.content_type == 22 and not m.encrypted and not m.error then
    local err
    d, err = decode(m)
    if not d then return M.ladder_line({ type = "malformed", role = m.role, direction = m.direction,
      error = err, protected = m.protected }, state) end
  end
  local info = details(m, d, state)
  state.prev = (from_client and "client " or "server ") .. tostring(m.type)
  local left, right = "", ""
  if from_client then left = title else right = title end
  local line = pad(left, NAME_W) .. " " .. arrow(m, from_client) .. "  " .. pad(right, NAME_W)
  return ((line .. "  " .. info):gsub("%s+$", ""))
end

-- ladder(events) -> text. Events of one connection draw its view; events of both ends
-- (a pair) are drawn once per message, from the sender's side.
function M.ladder(events)
  if type(events) ~= "table" then error("bad argument #1 to 'ladder' (list of trace events expected)", 2) end
  local roles = {}
  for _, m in ipairs(events) do roles[m.role or "?"] = true end
  local both = roles.client and roles.server
  local lines, state = { M.ladder_header() }, {}
  for _, m in ipairs(events) do
    if not both or m.direction == "sent" then lines[#lines + 1] = M.ladder_line(m, state) end
  end
  lines[#lines + 1] = "(--> plaintext   ==> protected, opened   ~~> protected, not opened)"
  return concat(lines, "\n") .. "\n"
end

-- attach(ctx_or_conn [, out]) -> events: collect every message of the connection (or of
-- every connection of the context started from now on) and, with `out` (a file or a
-- function(line)), print the ladder as it happens. Attach before the handshake starts.
function M.attach(target, out)
  if type(target) ~= "userdata" or type(target.set_handler) ~= "function" then
    error("bad argument #1 to 'attach' (Context or Connection expected)", 2)
  end
  if out ~= nil and type(out) ~= "function" and not (type(out) == "userdata" or type(out) == "table") then
    error("bad argument #2 to 'attach' (file or function expected)", 2)
  end
  local events, state, started = {}, {}, false
  local write
  if type(out) == "function" then write = out
  elseif out ~= nil then write = function(line) out:write(line, "\n") end end
  target:set_handler("on_message", function(_, m)
    events[#events + 1] = m
    if write then
      if not started then write(M.ladder_header()); started = true end
      write(M.ladder_line(m, state))
    end
  end)
  return events
end

return M
