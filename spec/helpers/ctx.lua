-- The contexts specs make again and again, over the test PKI of spec/helpers/certs.lua:
--
--   local contexts = require "spec.helpers.ctx"
--   local p = wolfssl.pair(contexts.client(), contexts.server({ alpn = { "h2" } }), ...)
--
--   contexts.server([extra [, kind]])   a server presenting kind.pem / kind.key: "ec"
--                                       (default), "rsa", "wrong-host", ...; false: none
--   contexts.client([extra])            a client that trusts the test CA; its connections
--                                       name their server_name (a checking client needs one)
--   contexts.localhost_client([extra])  the same with server_name = "localhost" for every
--                                       connection
--   contexts.version(v [, extra])       min_version = max_version = v, then extra
--   contexts.merge(base, extra)         a copy of base with extra's fields added or replaced
--
-- `extra` holds any wolfssl.context options; they add to the defaults or replace them.
-- Each maker returns the context, or fails the test with wolfssl.context's message.
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"

local M = {}

function M.merge(base, extra)
  local o = {}
  for k, v in pairs(base or {}) do o[k] = v end
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

function M.server(extra, kind)
  local o = { role = "server" }
  if kind ~= false then
    kind = kind or "ec"
    o.certificate, o.key = certs.path(kind .. ".pem"), certs.path(kind .. ".key")
  end
  return assert(wolfssl.context(M.merge(o, extra)))
end

function M.client(extra)
  return assert(wolfssl.context(M.merge({ role = "client", ca = certs.path("ca.pem") }, extra)))
end

function M.localhost_client(extra)
  return M.client(M.merge({ server_name = "localhost" }, extra))
end

function M.version(v, extra)
  return M.merge({ min_version = v, max_version = v }, extra)
end

return M
