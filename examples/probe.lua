-- probe.lua: which TLS versions, cipher suites and groups does a server accept?
--
--   lua examples/probe.lua HOST PORT [--servername NAME] [--timeout SECONDS]
--
-- Like sslscan, without completing a single handshake: each probe is one crafted
-- ClientHello (wolfssl.trace.encode) sent over a plain socket, and the server's first
-- answer decides: a ServerHello or HelloRetryRequest says what it picked, an alert or a
-- closed connection says no. One result per line:
--
--   version TLSv1.3 accepted | version TLSv1.2 rejected (alert protocol_version)
--   suite TLSv1.3 TLS_AES_256_GCM_SHA384
--   group TLSv1.3 x25519
local socket = require "socket"
local trace = require("wolfssl").trace

local host, port = arg[1], tonumber(arg[2] or "")
if not host or not port then
  io.stderr:write("usage: probe.lua HOST PORT [--servername NAME] [--timeout SECONDS]\n")
  os.exit(2)
end
local servername, timeout = nil, 3
for i = 3, #arg do
  if arg[i] == "--servername" then servername = arg[i + 1]
  elseif arg[i] == "--timeout" then timeout = tonumber(arg[i + 1]) or timeout end
end
if not servername and not host:match("^[%d.]+$") and not host:find(":", 1, true) then servername = host end

-- Send one ClientHello; the server's answer: {hello = decoded ServerHello/HRR,
-- key_exchange = decoded ServerKeyExchange} or {alert = name} or {closed = why}.
local function ask(hello_table, want_ske)
  local bytes = assert(trace.encode(hello_table))
  local sock = socket.tcp()
  sock:settimeout(timeout)
  local ok, err = sock:connect(host, port)
  if not ok then
    io.stderr:write(("cannot connect to %s:%d: %s\n"):format(host, port, err))
    os.exit(1)
  end
  sock:send(trace.record("handshake", bytes))
  local buf, answer = "", nil
  local deadline = socket.gettime() + timeout
  while not answer do
    -- whatever has arrived (receive(n) alone would wait for all n bytes)
    local rerr
    if #socket.select({ sock }, nil, math.max(0, deadline - socket.gettime())) == 0 then
      rerr = "timeout"
    else
      sock:settimeout(0)
      local data, err, partial = sock:receive(65536)
      data = data or partial
      if data and #data > 0 then buf = buf .. data end
      if err == "closed" then rerr = "closed" end
    end
    local result = {}
    for _, m in ipairs(trace.records(buf)) do
      if m.type == "alert" then result.alert = m.description break end
      if m.type == "server_hello" or m.type == "hello_retry_request" then
        result.hello = trace.decode(m.bytes)
        if not result.hello then result.closed = "malformed ServerHello" break end
        if not want_ske or m.type == "hello_retry_request" or result.hello.version == "TLSv1.3" then break end
      end
      if m.type == "server_key_exchange" then result.key_exchange = trace.decode(m.bytes, "TLSv1.2") break end
      if m.type == "server_hello_done" then break end
    end
    if result.alert or result.closed or (result.hello and (not want_ske or result.key_exchange
        or result.hello.type == "hello_retry_request" or result.hello.version == "TLSv1.3")) then
      answer = result
    elseif rerr then
      answer = result.hello and result or { closed = rerr }
    end
  end
  sock:close()
  return answer
end

local function why(a) return a.alert and ("alert " .. tostring(a.alert)) or ("connection " .. tostring(a.closed)) end

local TLS13_SUITES, TLS12_SUITES = {}, {}
for code, name in pairs(trace.names.cipher_suites) do
  if code >= 0x1301 and code <= 0x1305 then TLS13_SUITES[#TLS13_SUITES + 1] = name
  elseif code ~= 0x00FF and code ~= 0x5600 and code ~= 0xC0B4 and code ~= 0xC0B5 then -- not SCSVs,
    TLS12_SUITES[#TLS12_SUITES + 1] = name                                            -- not TLS 1.3
  end
end
table.sort(TLS13_SUITES)
table.sort(TLS12_SUITES)
local GROUPS = { "x25519", "x448", "secp256r1", "secp384r1", "secp521r1", "ffdhe2048", "ffdhe3072", "ffdhe4096" }
local ECDHE_GROUPS = { "x25519", "x448", "secp256r1", "secp384r1", "secp521r1" }
local ECDHE_SUITES = {}
for _, s in ipairs(TLS12_SUITES) do if s:find("^TLS_ECDHE_") then ECDHE_SUITES[#ECDHE_SUITES + 1] = s end end

local function hello(version, suites, groups, shares)
  return trace.client_hello({ versions = { version }, cipher_suites = suites, groups = groups or GROUPS,
    key_shares = shares, server_name = servername })
end

print(("probe of %s:%d%s"):format(host, port, servername and (" (SNI " .. servername .. ")") or ""))
local accepted = {}
for _, v in ipairs({ "TLSv1.3", "TLSv1.2" }) do
  local a = ask(hello(v, v == "TLSv1.3" and TLS13_SUITES or TLS12_SUITES, nil, {}))
  if a.hello and a.hello.version == v then
    accepted[v] = true
    print(("version %s accepted"):format(v))
  else
    print(("version %s rejected (%s)"):format(v, a.hello and ("server chose " .. tostring(a.hello.version)) or why(a)))
  end
end

-- suites: offer what is left until the server refuses; it picks one each time
for _, v in ipairs({ "TLSv1.3", "TLSv1.2" }) do
  if accepted[v] then
    local left = {}
    for _, s in ipairs(v == "TLSv1.3" and TLS13_SUITES or TLS12_SUITES) do left[#left + 1] = s end
    while #left > 0 do
      local a = ask(hello(v, left, nil, {}))
      if not a.hello then break end
      local chosen = a.hello.cipher_suite
      print(("suite %s %s"):format(v, tostring(chosen)))
      local rest = {}
      for _, s in ipairs(left) do if s ~= chosen then rest[#rest + 1] = s end end
      if #rest == #left then break end -- picked something not offered: stop
      left = rest
    end
  end
end

-- groups, one at a time: TLS 1.3 without a key share (the server's HelloRetryRequest
-- names the group it takes), TLS 1.2 with ECDHE suites (its ServerKeyExchange does)
if accepted["TLSv1.3"] then
  for _, g in ipairs(GROUPS) do
    local a = ask(hello("TLSv1.3", TLS13_SUITES, { g }, {}))
    local picked = a.hello and a.hello.extensions.key_share
    picked = picked and (picked.selected_group or picked.group)
    if picked == g then print(("group TLSv1.3 %s"):format(g)) end
  end
end
if accepted["TLSv1.2"] then
  for _, g in ipairs(ECDHE_GROUPS) do
    -- TLS 1.2 clients' groups also bound the curve of an ECDSA certificate (RFC 8422
    -- 5.1.1): offer g first, then the certificate curves; the key exchange says which
    local offer = { g }
    for _, c in ipairs({ "secp256r1", "secp384r1", "secp521r1" }) do if c ~= g then offer[#offer + 1] = c end end
    local a = ask(hello("TLSv1.2", ECDHE_SUITES, offer), true)
    if a.key_exchange and a.key_exchange.named_curve == g then print(("group TLSv1.2 %s"):format(g)) end
  end
end
print("done")
