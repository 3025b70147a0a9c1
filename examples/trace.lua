-- trace.lua: the handshake with any TLS server, message by message, as a ladder.
--
--   lua examples/trace.lua HOST PORT [--tls1.2 | --tls1.3] [--ca FILE] [--servername NAME]
--                                    [--alpn h2,http/1.1] [--ciphers LIST] [--decode]
--
-- Like `openssl s_client -trace`: connects, handshakes and prints every record both
-- ways: the plaintext hellos and the encrypted handshake messages, which lua-wolfssl
-- opens with the connection's own keys. --decode also prints each message decoded.
-- Without --ca the server is not verified (a trace should show a failing server too).
local socket = require "socket"
local wolfssl = require "wolfssl"
local trace = wolfssl.trace

local function usage(msg)
  io.stderr:write((msg and (msg .. "\n") or "") ..
    "usage: trace.lua HOST PORT [--tls1.2|--tls1.3] [--ca FILE] [--servername NAME] [--alpn LIST]"
    .. " [--ciphers LIST] [--decode]\n")
  os.exit(2)
end

local host, port = arg[1], tonumber(arg[2] or "")
if not host or not port then usage() end
local opts = {}
local i = 3
while arg[i] do
  local a = arg[i]
  if a == "--tls1.2" or a == "--tls1.3" then opts.version = a:sub(3)
  elseif a == "--decode" then opts.decode = true
  elseif a == "--ca" or a == "--servername" or a == "--alpn" or a == "--ciphers" then
    i = i + 1
    opts[a:sub(3)] = arg[i] or usage(a .. " needs a value")
  else usage("unknown option " .. a) end
  i = i + 1
end

local ctx, err = wolfssl.context{
  role = "client",
  verify = opts.ca and "peer" or "none",
  ca = opts.ca,
  min_version = opts.version, max_version = opts.version,
  ciphers = opts.ciphers,
  alpn = opts.alpn and (function(l) local t = {} for p in l:gmatch("[^,]+") do t[#t + 1] = p end return t end)(opts.alpn),
}
if not ctx then usage(err) end

local tcp, cerr = socket.connect(host, port)
if not tcp then
  io.stderr:write(("cannot connect to %s:%d: %s\n"):format(host, port, cerr))
  os.exit(1)
end
local name = opts.servername or (not wolfssl._is_ip(host) and host) or nil
local conn = assert(ctx:connection{ server_name = name, fd = tcp:getfd() })
conn:settimeout(10)

-- one ladder line per message as it passes; with --decode, the decoded table under it
local function dump(v, indent)
  indent = indent or "    "
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) -- list entries in order, then fields by name
    if type(a) ~= type(b) then return type(a) == "number" end
    return a < b
  end)
  for _, k in ipairs(keys) do
    local x = v[k]
    if type(x) == "table" then
      print(indent .. tostring(k) .. ":")
      dump(x, indent .. "  ")
    elseif type(x) == "string" and x:find("[^%g ]") then
      print(indent .. tostring(k) .. " = <" .. #x .. " bytes> " .. (x:sub(1, 16):gsub(".", function(c) return ("%02x"):format(c:byte()) end)) .. (#x > 16 and "..." or ""))
    else
      print(indent .. tostring(k) .. " = " .. tostring(x))
    end
  end
end

print(("lua-wolfssl %s (wolfSSL %s): trace of %s:%d"):format(wolfssl._VERSION, wolfssl.wolfssl_version, host, port))
local state = {}
conn:set_handler("on_message", function(_, m)
  if not state.header then print(trace.ladder_header()); state.header = true end
  print(trace.ladder_line(m, state))
  if opts.decode and m.content_type == 22 and not m.encrypted then
    local d, derr = trace.decode(m)
    if d then dump(d) else print("    " .. derr) end
  end
end)

local ok, herr, code = conn:handshake()
if not ok then
  print(("handshake failed: %s (%s)"):format(herr, code))
  conn:close()
  tcp:close()
  os.exit(1)
end
-- a TLS 1.3 server's tickets come after the handshake: read briefly to see them
conn:settimeout(0.5)
conn:read()
conn:shutdown()
print("(--> plaintext   ==> protected, opened   ~~> protected, not opened)")
local info = conn:info()
print(("negotiated %s %s %s%s%s"):format(info.version, info.cipher, info.group or "",
  info.alpn and (" alpn=" .. info.alpn) or "", info.resumed and " resumed" or ""))
conn:close()
tcp:close()
