-- pinning_client.lua HOST PORT PIN [SERVER_NAME]
--
-- Trusts a server by its public key alone (an RFC 7469 "pin-sha256": base64 of the
-- SHA-256 of its SubjectPublicKeyInfo), whatever signed its certificate: a self-signed
-- server is fine, a CA-signed one with another key is not. The pin of a certificate
-- file:  lua5.4 examples/inspect_cert.lua cert.pem  (field spki_pin)
--   lua5.4 examples/pinning_client.lua 127.0.0.1 8443 'Fn4c...=' localhost
local socket = require "socket"
local wolfssl = require "wolfssl"

local host, port, pin, server_name = arg[1], tonumber(arg[2] or ""), arg[3], arg[4]
if not (host and port and pin) then
  io.stderr:write("usage: pinning_client.lua HOST PORT PIN [SERVER_NAME]\n")
  os.exit(2)
end

local ctx = assert(wolfssl.context({
  role = "client",
  ca = {},                -- no CA vouches for anything here: the pin decides
  check_hostname = false, -- the pinned key identifies the server, not its name
  on_verify = function(_, v)
    if v.depth > 0 then return true end -- only the server's own key is pinned
    local got = v.certificate:spki_pin()
    if got == pin then return true end
    return false, "pin mismatch: server key is " .. got
  end,
}))

local tcp = assert(socket.connect(host, port))
local conn = assert(ctx:connection({ server_name = server_name, fd = tcp:getfd() }))
conn:settimeout(10)
local ok, err, code = conn:handshake()
if not ok then
  print(("rejected: %s (%s)"):format(err, code))
  tcp:close()
  os.exit(1)
end
local cert = conn:peer_certificate()
print("accepted by pin: " .. cert:spki_pin())
print("server:          " .. tostring(cert:subject()))
print("issuer:          " .. tostring(cert:issuer()))
print("CA-verified:     " .. tostring(conn:info().verified) .. " (the pin is what counts)")
conn:shutdown()
conn:close()
tcp:close()
