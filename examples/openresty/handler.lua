-- examples/openresty/handler.lua: lua-wolfssl inside nginx (OpenResty / the nginx Lua
-- module), over cosockets, never blocking the worker.
--
-- upstream(): a content handler that calls a TLS upstream with mutual authentication
--   (our client certificate and key), verifies it against a CA and its name, and, when
--   $tls_pin is set, accepts it only if its public key has that SPKI pin (RFC 7469).
--   It sends ?line=... and returns what the upstream answers.
-- tls_server(): answers an RFC 2817 "Upgrade: TLS/1.0" request with 101 Switching
--   Protocols and speaks TLS (as the server) on the request's raw socket, echoing lines.
--
-- Paths in the $tls_* variables are relative to nginx's prefix unless absolute.
local wolfssl = require "wolfssl"
local wngx = require "wolfssl.ngx"

local M = {}

-- Contexts are made once per worker and reused for every request: loading keys and CA
-- files is the expensive part.
local contexts = {}

local function path(p)
  if p == nil or p == "" then return nil end
  if p:sub(1, 1) == "/" then return p end
  return ngx.config.prefix() .. p
end

local function client_context(v)
  local key = table.concat({ v.tls_ca or "", v.tls_cert or "", v.tls_key or "", v.tls_pin or "" }, "\0")
  if contexts[key] then return contexts[key] end
  local opts = { role = "client", ca = path(v.tls_ca), certificate = path(v.tls_cert), key = path(v.tls_key) }
  local pin = v.tls_pin
  if pin and pin ~= "" then
    if not wolfssl._handlers.on_verify then
      return nil, "pinning needs on_verify, which this build of lua-wolfssl does not have"
    end
    -- the chain must still verify (nil keeps the binding's verdict); the leaf must
    -- also carry the pinned key
    opts.on_verify = function(_, v)
      if v.depth == 0 and v.certificate:spki_pin("sha256") ~= pin then
        return false, "SPKI pin mismatch"
      end
      return nil
    end
  end
  local ctx, err = wolfssl.context(opts)
  if not ctx then return nil, err end
  contexts[key] = ctx
  return ctx
end

function M.upstream()
  local v = ngx.var
  local ctx, cerr = client_context(v)
  if not ctx then
    ngx.status = 500
    ngx.say("bad TLS configuration: ", cerr)
    return
  end
  local sock = ngx.socket.tcp()
  sock:settimeout(tonumber(v.tls_timeout_ms) or 5000)
  local ok, err = sock:connect(v.tls_upstream_addr, tonumber(v.tls_upstream_port))
  if not ok then
    ngx.status = 502
    ngx.say("connect failed: ", err)
    return
  end
  local tls = assert(wngx.wrap(sock, ctx, { server_name = v.tls_upstream_name }))
  local hok, herr, code = tls:handshake()
  if not hok then
    ngx.status = 502
    ngx.say("handshake failed: ", herr, " [", code, "]")
    sock:close()
    return
  end
  tls:send((v.arg_line or "hello") .. "\n")
  local line, rerr = tls:receive("*l")
  local info = tls:info()
  ngx.say("upstream said: ", line or ("(" .. tostring(rerr) .. ")"))
  ngx.say("version: ", info.version, ", cipher: ", info.cipher, ", verified: ", tostring(info.verified))
  ngx.say("upstream certificate: ", tostring(tls:peer_certificate():subject()))
  tls:close()
end

local function server_context(v)
  local key = "server\0" .. (v.tls_cert or "") .. "\0" .. (v.tls_key or "")
  if not contexts[key] then
    contexts[key] = assert(wolfssl.context({ role = "server", certificate = path(v.tls_cert), key = path(v.tls_key) }))
  end
  return contexts[key]
end

function M.tls_server()
  local h = ngx.req.get_headers()
  if not (h.upgrade or ""):find("TLS/1.0", 1, true) then
    ngx.status = 426
    ngx.header["Upgrade"] = "TLS/1.0"
    ngx.say("this resource speaks TLS after an RFC 2817 upgrade")
    return
  end
  local tls, err = wngx.server(server_context(ngx.var), {
    response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: TLS/1.0, HTTP/1.1\r\nConnection: Upgrade\r\n\r\n",
  })
  if not tls then
    ngx.log(ngx.ERR, "no raw socket: ", err)
    return ngx.exit(500)
  end
  tls:settimeout(5000)
  local ok, herr, code = tls:handshake()
  if not ok then
    ngx.log(ngx.ERR, "TLS handshake failed: ", herr, " [", code, "]")
    return ngx.exit(444)
  end
  while true do
    local line = tls:receive("*l")
    if not line or line == "quit" then break end
    tls:send("echo: " .. line .. " (" .. tls:info().version .. ")\n")
  end
  tls:close()
end

return M
