-- lua-wolfssl inside a real nginx with the Lua module (LuaJIT, linked with OpenSSL):
-- verified, mutual, pinned TLS calls to an upstream over cosockets without blocking
-- the worker, and TLS served on a request's raw socket. The handlers are
-- examples/openresty/handler.lua, so the example is what is tested.
local socket = require "socket"
local wolfssl = require "wolfssl"
local ssl = require "wolfssl.socket"
local certs = require "spec.helpers.certs"
local peer = require "spec.helpers.peer"
local nginx = require "spec.helpers.nginx"
local tmp = require "spec.helpers.tmp"

local q = tmp.quote
local available = nginx.available()
if available then nginx.build_core() end

-- A location calling the upstream through examples/openresty/handler.lua.
local function upstream_location(name, port, extra)
  return ([[
    location = /%s {
      set $tls_upstream_addr 127.0.0.1;
      set $tls_upstream_port %d;
      set $tls_upstream_name localhost;
      set $tls_ca   %s;
      set $tls_cert %s;
      set $tls_key  %s;
      set $tls_pin  "%s";
      set $tls_timeout_ms %d;
      content_by_lua_block { require("handler").upstream() }
    }
  ]]):format(name, port, certs.path((extra and extra.ca) or "ca.pem"), certs.path("client.pem"),
    certs.path("client.key"), extra and extra.pin or "", extra and extra.timeout or 5000)
end


local function start(server_block)
  return nginx.start({ server = server_block .. [[
    location = /ping { content_by_lua_block { ngx.say("pong") } }
  ]], lua_path = nginx.root .. "/examples/openresty/?.lua" })
end

-- The base64 SHA-256 pin of a certificate's public key (RFC 7469), by the openssl CLI.
local function spki_pin(cert)
  return (tmp.run(("openssl x509 -in %s -pubkey -noout | openssl pkey -pubin -outform der"
    .. " | openssl dgst -sha256 -binary | openssl base64 -A"):format(q(certs.path(cert)))):gsub("%s+$", ""))
end

describe("lua-wolfssl in nginx", function()
  if not available then
    it("needs nginx with the Lua module", function() pending(nginx.missing) end)
    return
  end

  local srv, upstream
  after_each(function()
    nginx.stop(srv)
    peer.stop(upstream)
    srv, upstream = nil, nil
  end)

  it("imports from libwolfssl only names OpenSSL does not also export", function()
    -- nginx links OpenSSL globally: a symbol both export would bind to OpenSSL's
    local imported = tmp.run("nm -D --undefined-only " .. q(nginx.core))
    -- the OpenSSL libraries this nginx is linked with
    local libs = {}
    for path in tmp.run("ldd " .. q(nginx.NGINX)):gmatch("=>%s*(%S+)") do
      if path:find("/libssl%.so") or path:find("/libcrypto%.so") then libs[#libs + 1] = q(path) end
    end
    assert.equal(2, #libs, "nginx is not linked with libssl and libcrypto")
    local openssl = tmp.run("nm -D --defined-only " .. table.concat(libs, " "))
    local exported, count = {}, 0
    for name in openssl:gmatch("%s[TDBRVW]%s+([%w_]+)") do exported[name] = true; count = count + 1 end
    assert.is_true(count > 1000 and exported.SSL_SESSION_set1_id ~= nil) -- the list is real
    local wolf, clashes = 0, {}
    for name in imported:gmatch("U%s+([%w_]+)") do
      if name:find("^wolfSSL") or name:find("^wc_") then wolf = wolf + 1 end
      if exported[name] then clashes[#clashes + 1] = name end
    end
    assert.is_true(wolf > 50)
    assert.same({}, clashes)
    for _, n in ipairs({ "SSL_SESSION_set1_id", "SSL_COMP_get_compression_methods", "ERR_load_SSL_strings" }) do
      assert.is_falsy(imported:find(n, 1, true), n)
    end
  end)

  it("loads into the OpenSSL-linked worker, next to libssl", function()
    srv = start([[location = /version { content_by_lua_block {
      local w = require "wolfssl"
      ngx.say(w._VERSION, " on wolfSSL ", w.wolfssl_version, ", ", jit and jit.version or _VERSION)
    } }]])
    local status, body = nginx.get(srv, "/version")
    assert.equal(200, status, nginx.errors(srv))
    assert.matches("^lua%-wolfssl scm on wolfSSL 5%.%d+%.%d+, LuaJIT", body)
    local maps = tmp.read("/proc/" .. srv.pid .. "/maps") or ""
    assert.matches("libssl%.so", maps)
    assert.matches("libwolfssl%.so", maps)
    assert.matches("built with OpenSSL", tmp.run(nginx.NGINX .. " -V"))
  end)

  it("makes a verified mutual-TLS call to openssl s_server through a cosocket", function()
    upstream = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"),
      args = ("-CAfile %s -Verify 1 -verify_return_error -rev"):format(q(certs.path("ca.pem"))) })
    srv = start(upstream_location("upstream", upstream.port))
    local status, body = nginx.get(srv, "/upstream?line=hello")
    assert.equal(200, status, body .. nginx.errors(srv))
    assert.matches("upstream said: olleh", body, 1, true)
    assert.matches("version: TLSv1.3, cipher: TLS_AES_128_GCM_SHA256, verified: true", body, 1, true)
    assert.matches("upstream certificate: CN=localhost", body, 1, true)
    -- s_server saw and verified our client certificate
    assert.matches("CN = test client", peer.output(upstream), 1, true)
  end)

  it("refuses an upstream its CA does not vouch for, and says why", function()
    upstream = peer.s_server({ cert = certs.path("untrusted.pem"), key = certs.path("untrusted.key"), args = "-rev" })
    srv = start(upstream_location("upstream", upstream.port))
    local status, body = nginx.get(srv, "/upstream")
    assert.equal(502, status)
    assert.matches("handshake failed: certificate verify failed: unable to get local issuer certificate "
      .. "(depth 0, CN=localhost) (sent alert unknown_ca) [verify_failed]", body, 1, true)
  end)

  it("accepts the upstream only with the pinned public key (on_verify + spki_pin)", function()
    upstream = peer.s_server({ cert = certs.path("ec.pem"), key = certs.path("ec.key"),
      args = ("-CAfile %s -Verify 1 -rev"):format(q(certs.path("ca.pem"))) })
    srv = start(upstream_location("pinned", upstream.port, { pin = spki_pin("ec.pem") })
      .. upstream_location("wrongpin", upstream.port, { pin = spki_pin("rsa.pem") }))
    local status, body = nginx.get(srv, "/pinned?line=pin")
    assert.equal(200, status, body)
    assert.matches("upstream said: nip", body, 1, true)
    status, body = nginx.get(srv, "/wrongpin")
    assert.equal(502, status)
    assert.matches("SPKI pin mismatch", body, 1, true)
    assert.matches("[verify_failed]", body, 1, true)
  end)

  it("does not block the worker while an upstream takes its time", function()
    -- an upstream that accepts (the kernel does) and never answers the ClientHello
    local silent, port = peer.listen()
    finally(function() silent:close() end)
    srv = start(upstream_location("silent", port, { timeout = 2000 }))
    local slow = socket.tcp()
    slow:settimeout(10)
    assert(slow:connect("127.0.0.1", srv.port))
    finally(function() slow:close() end)
    local t0 = socket.gettime()
    slow:send("GET /silent HTTP/1.0\r\nHost: localhost\r\n\r\n")
    socket.sleep(0.2) -- the one worker is now waiting in the handshake
    for _ = 1, 3 do
      local t = socket.gettime()
      local status, body = nginx.get(srv, "/ping", 5)
      assert.equal(200, status)
      assert.equal("pong\n", body)
      assert.is_true(socket.gettime() - t < 0.5, "the worker was blocked")
    end
    local answer = slow:receive("*a")
    assert.matches("^HTTP/1%.1 502", answer)
    assert.matches("handshake failed: timeout [timeout]", answer, 1, true)
    assert.is_true(socket.gettime() - t0 >= 1.8)
  end)

  for _, transport in ipairs({ "fd", "memory" }) do
    it(("serves TLS on the raw request socket after an RFC 2817 upgrade (client %s transport)"):format(transport), function()
      srv = start(([[location = /tls {
        set $tls_cert %s;
        set $tls_key  %s;
        content_by_lua_block { require("handler").tls_server() }
      }]]):format(certs.path("rsa.pem"), certs.path("rsa.key")))
      local tcp = socket.tcp()
      tcp:settimeout(5)
      assert(tcp:connect("127.0.0.1", srv.port))
      tcp:send("GET /tls HTTP/1.1\r\nHost: localhost\r\nUpgrade: TLS/1.0\r\nConnection: Upgrade\r\n\r\n")
      assert.equal("HTTP/1.1 101 Switching Protocols", tcp:receive())
      repeat local h = tcp:receive() until h == "" or h == nil
      local conn = assert(ssl.wrap(tcp, { mode = "client", verify = "peer", cafile = certs.path("ca.pem"),
        checkhost = true }, { transport = transport }))
      finally(function() conn:close() end)
      conn:sni("localhost")
      conn:settimeout(5)
      local ok, err = conn:dohandshake()
      assert.is_true(ok, tostring(err) .. nginx.errors(srv))
      assert.is_true(conn:getpeerverification())
      conn:send("over nginx\n")
      assert.equal("echo: over nginx (TLSv1.3)", conn:receive())
      conn:send("quit\n")
      assert.same({ nil, "closed", "" }, { conn:receive() })
    end)
  end

  it("pauses the server handshake in a ClientHello hook and resumes after a cosocket lookup", function()
    srv = start(([[
      location = /lookup { content_by_lua_block { ngx.sleep(0.05); ngx.print("rsa") } }
      location = /paused {
        content_by_lua_block {
          local wolfssl = require "wolfssl"
          local wngx = require "wolfssl.ngx"
          local certs = { ec = { %q, %q }, rsa = { %q, %q } }
          local wanted
          local ctx = assert(wolfssl.context({ role = "server", certificate = certs.ec[1], key = certs.ec[2],
            on_client_hello = function(conn, hello)
              if not wanted then return wolfssl.PAUSE end
              assert(conn:use_certificate(certs[wanted][1], certs[wanted][2]))
            end }))
          local tls = assert(wngx.server(ctx, { response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: TLS/1.0, HTTP/1.1\r\nConnection: Upgrade\r\n\r\n",
            on_pause = function()
              local sock = ngx.socket.tcp()
              assert(sock:connect("127.0.0.1", ngx.var.server_port))
              sock:send("GET /lookup HTTP/1.0\r\nHost: localhost\r\n\r\n")
              local reply = sock:receive("*a")
              wanted = reply:match("\r\n\r\n(%%a+)$")
              sock:close()
            end }))
          assert(tls:handshake())
          tls:send("paused and resumed\n")
          tls:close()
        }
      }
    ]]):format(certs.path("ec.pem"), certs.path("ec.key"), certs.path("rsa.pem"), certs.path("rsa.key")))
    local tcp = socket.tcp()
    tcp:settimeout(5)
    assert(tcp:connect("127.0.0.1", srv.port))
    tcp:send("GET /paused HTTP/1.1\r\nHost: localhost\r\nUpgrade: TLS/1.0\r\nConnection: Upgrade\r\n\r\n")
    repeat local h = tcp:receive() until h == "" or h == nil
    local conn = assert(ssl.wrap(tcp, { mode = "client", verify = "peer", cafile = certs.path("ca.pem") }))
    finally(function() conn:close() end)
    conn:settimeout(5)
    assert.is_true(conn:dohandshake())
    assert.equal(certs.read("rsa.pem"), conn:getpeercertificate():pem())
    assert.equal("paused and resumed", conn:receive())
  end)

  it("runs examples/openresty/nginx.conf's configuration check", function()
    local out = tmp.run(("%s -t -p %s -c examples/openresty/nginx.conf -e %s 2>&1"):format(nginx.NGINX,
      q(nginx.root .. "/"), q(tmp.path("nginx-t.log"))))
    assert.matches("syntax is ok", out, 1, true)
    assert.matches("test is successful", out, 1, true)
  end)
end)
