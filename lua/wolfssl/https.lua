-- wolfssl.https: LuaSocket's HTTP client over lua-wolfssl, verified by default.
--
--   local https = require "wolfssl.https"
--   local body, code, headers, status = https.request("https://example.org/")
--
-- The same calls as LuaSec's ssl.https (and LuaSocket's socket.http): a URL string
-- (and an optional POST body) returns body, code, headers, status; a request table
-- (url, sink, source, method, headers, step, redirect, maxredirects) returns 1, code,
-- headers, status. Unlike LuaSec's, which sets verify = "none", the server's
-- certificate is verified against the system CA store (or the request's cafile/capath)
-- and its name checked against the URL's host, unless the request says verify = "none".
-- A request table may carry any wolfssl.socket parameter (cafile, capath, certificate,
-- key, password, protocol, options, ciphers, curve, alpn, depth, transport) and
-- `timeout` (seconds, default https.TIMEOUT).
local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"
local url = require "socket.url"
local tls = require "wolfssl.socket"

local M = {
  _VERSION = tls._VERSION,
  PORT = 443,
  TIMEOUT = 60,
}

-- TLS parameters a request table may carry, with the defaults that make it secure.
local TLS_PARAMS = {
  protocol = "any", verify = "peer", checkhost = true, options = false, cafile = false,
  capath = false, certificate = false, key = false, password = false, ciphers = false,
  ciphersuites = false, curve = false, curveslist = false, alpn = false, depth = false,
  transport = false, verifyext = false,
}

local function tls_params(reqt)
  local params = { mode = "client" }
  for k, default in pairs(TLS_PARAMS) do
    local v = reqt[k]
    if v == nil and default then v = default end
    params[k] = v
  end
  if params.verify == "none" then params.checkhost = false end
  return params
end

-- Over plain LuaSocket a slow server gives "timeout"; LuaSec says "wantread". Say
-- "timeout", so an https request reads like an http one.
local function plain(err)
  if err == "wantread" or err == "wantwrite" then return "timeout" end
  return err
end

-- LuaSocket's `create`: an object with connect/settimeout/send/receive/close whose
-- connect() does TCP, then TLS with the host name as SNI and as the name to check.
function M.tcp(reqt)
  local params = tls_params(reqt or {})
  local timeout = reqt and reqt.timeout or M.TIMEOUT
  local ctx, cerr -- one context per request (its redirects included): the CA store loads once
  return function()
    local conn = { sock = socket.tcp() }
    function conn:settimeout() return self.sock:settimeout(timeout) end
    function conn:connect(host, port)
      if not ctx then
        ctx, cerr = tls.newcontext(params)
        if not ctx then return nil, cerr end
      end
      self.sock:settimeout(timeout)
      local ok, err = self.sock:connect(host, port)
      if not ok then return nil, err end
      local s, werr = tls.wrap(self.sock, ctx)
      if not s then return nil, werr end
      s:sni(host)
      s:settimeout(timeout)
      local hok, herr = s:dohandshake()
      if not hok then
        s:close()
        return nil, plain(herr)
      end
      self.tls = s
      return 1
    end
    function conn:send(...)
      local a, err, c = self.tls:send(...)
      return a, plain(err), c
    end
    function conn:receive(...)
      local a, err, partial = self.tls:receive(...)
      return a, plain(err), partial
    end
    function conn:close()
      if self.tls then return self.tls:close() end
      return self.sock:close()
    end
    function conn:getfd() return (self.tls or self.sock):getfd() end
    function conn:dirty() return self.tls ~= nil and self.tls:dirty() end
    return conn
  end
end

local function with_https_port(u)
  return url.build(url.parse(u, { port = M.PORT }))
end

-- request(url [, body]) -> body, code, headers, status | nil, error
-- request(reqt)         -> 1, code, headers, status    | nil, error
function M.request(reqt, body)
  local stringrequest = type(reqt) == "string"
  local result = {}
  if stringrequest then
    local t = { url = reqt, method = body and "POST" or "GET", sink = ltn12.sink.table(result) }
    if body then
      t.source = ltn12.source.string(body)
      t.headers = { ["content-length"] = #body, ["content-type"] = "application/x-www-form-urlencoded" }
    end
    reqt = t
  elseif type(reqt) ~= "table" then
    error("bad argument #1 to 'request' (string or table expected, got " .. type(reqt) .. ")", 2)
  else
    local copy = {}
    for k, v in pairs(reqt) do copy[k] = v end
    reqt = copy
  end
  if type(reqt.url) ~= "string" then return nil, "missing url" end
  local scheme = url.parse(reqt.url).scheme
  if scheme ~= "https" then return nil, "not an https URL: " .. reqt.url end
  if http.PROXY or reqt.proxy then return nil, "proxy not supported" end
  if reqt.create then return nil, "create function not permitted" end
  reqt.url = with_https_port(reqt.url)
  reqt.create = M.tcp(reqt)
  local res, code, headers, status = http.request(reqt)
  if res and stringrequest then return table.concat(result), code, headers, status end
  return res, code, headers, status
end

return M
