-- A script builds contexts from a table of options: secure defaults, clear errors.
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"

local function server(extra)
  local o = { role = "server", certificate = certs.path("ec.pem"), key = certs.path("ec.key") }
  for k, v in pairs(extra or {}) do o[k] = v end
  return wolfssl.context(o)
end

describe("wolfssl.context", function()
  it("makes a client that verifies against the system store by default", function()
    local ctx = assert(wolfssl.context({ role = "client" }))
    local s = ctx:settings()
    assert.equal("peer", s.verify)
    assert.is_true(s.check_hostname)
    -- the default client refuses our private test CA: it is not in the system store
    local p, err, code = wolfssl.pair(ctx, assert(server()), { server_name = "localhost" })
    assert.is_nil(p)
    assert.equal("verify_failed", code)
    assert.matches("unable to get local issuer certificate", err)
  end)

  it("requires a server_name when the client checks host names", function()
    local ctx = assert(wolfssl.context({ role = "client" }))
    assert.has_error(function() ctx:connection() end,
      "server_name is required when the context checks host names (pass server_name=..., or check_hostname = false in the context)")
    assert.truthy(assert(wolfssl.context({ role = "client", check_hostname = false })):connection())
  end)

  it("sets an explicit modern cipher list, so legacy suites compiled into wolfSSL are off", function()
    for _, legacy in ipairs({ "RC4", "DES-CBC3", "NULL" }) do
      assert.is_nil(wolfssl.DEFAULT_CIPHERS:find(legacy, 1, true))
    end
    local sctx = assert(server({ ciphers = "ECDHE-ECDSA-NULL-SHA:" .. wolfssl.DEFAULT_CIPHERS }))
    local cctx = assert(wolfssl.context({ role = "client", ca = certs.path("ca.pem"), max_version = "tls1.2" }))
    local p = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost" }))
    assert.is_nil(p.client:info().cipher:find("NULL", 1, true))
  end)

  it("takes certificate and key as PEM strings, DER strings and Certificate objects", function()
    assert.truthy(wolfssl.context({ role = "server", certificate = certs.read("ec.pem"), key = certs.read("ec.key") }))
    local der_cert = assert(wolfssl.certificate(certs.read("ec.pem"))):der()
    local der_key = certs.read("ec.key"):match("%-%-%-%-%-\n(.-)\n%-%-%-%-%-END")
    assert.truthy(der_cert and der_key)
    local cert_obj = wolfssl.certificate(certs.read("ec.pem"))
    assert.truthy(wolfssl.context({ role = "server", certificate = cert_obj, key = certs.read("ec.key") }))
    assert.truthy(wolfssl.context({ role = "server", certificate = der_cert, key = certs.path("ec.key") }))
  end)

  it("takes CAs from a file, a directory, a PEM string and a list", function()
    local dir = certs.dir .. "/cadir"
    require("spec.helpers.tmp").run("mkdir -p " .. dir .. " && cp " .. certs.path("ca.pem") .. " " .. dir .. "/")
    for _, ca in ipairs({ certs.path("ca.pem"), dir, certs.read("ca.pem"),
      { certs.path("other-ca.pem"), certs.read("ca.pem") } }) do
      local cctx = assert(wolfssl.context({ role = "client", ca = ca }))
      assert.truthy(wolfssl.pair(cctx, assert(server()), { server_name = "localhost" }))
    end
  end)

  it("decrypts an encrypted key with a password string or function", function()
    for _, keyfile in ipairs({ "ec-enc.key", "ec-pk8.key" }) do
      assert.truthy(server({ key = certs.path(keyfile), password = certs.password }))
      local asked = 0
      assert.truthy(server({ key = certs.path(keyfile), password = function() asked = asked + 1; return certs.password end }))
      assert.is_true(asked >= 1)
    end
  end)

  describe("returns nil and a message for a bad value", function()
    it("a missing certificate file", function()
      local ctx, err = server({ certificate = "/nonexistent/cert.pem" })
      assert.is_nil(ctx)
      assert.equal("cannot open certificate: /nonexistent/cert.pem: No such file or directory", err)
    end)

    it("garbage PEM", function()
      local ctx, err = server({ certificate = "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n" })
      assert.is_nil(ctx)
      assert.matches("^cannot load certificate: ", err)
    end)

    it("a key that does not match the certificate (same curve)", function()
      local ctx, err = server({ key = certs.path("ca.key") })
      assert.is_nil(ctx)
      assert.equal("private key does not match the certificate", err)
    end)

    it("a key of another type", function()
      local ctx, err = server({ key = certs.path("rsa.key") })
      assert.is_nil(ctx)
      assert.equal("private key does not match the certificate", err)
    end)

    it("a wrong password, in both encrypted formats", function()
      -- wolfSSL "loads" a traditional PEM key with a wrong password (notes item 11):
      -- the binding catches it at load time, not in the first handshake
      local ctx, err = server({ key = certs.path("ec-enc.key"), password = "wrong" })
      assert.is_nil(ctx)
      assert.matches("password", err)
      ctx, err = server({ key = certs.path("ec-pk8.key"), password = "wrong" })
      assert.is_nil(ctx)
      assert.matches("password", err)
    end)

    it("an encrypted key without a password", function()
      local ctx, err = server({ key = certs.path("ec-pk8.key") })
      assert.is_nil(ctx)
      assert.is_string(err)
    end)

    it("a password function that throws", function()
      local ctx, err = server({ key = certs.path("ec-enc.key"), password = function() error("vault is locked") end })
      assert.is_nil(ctx)
      assert.matches("password callback failed: .*vault is locked", err)
    end)

    it("a certificate without a key", function()
      local ctx, err = wolfssl.context({ role = "server", certificate = certs.path("ec.pem") })
      assert.is_nil(ctx)
      assert.equal("a certificate was given without its key", err)
    end)

    it("a cipher list with nothing usable", function()
      local ctx, err = server({ ciphers = "NOT-A-SUITE" })
      assert.is_nil(ctx)
      assert.equal("no usable cipher suite in the list", err)
    end)

    it("min_version above max_version", function()
      local ctx, err = server({ min_version = "tls1.3", max_version = "tls1.2" })
      assert.is_nil(ctx)
      assert.equal("min_version is newer than max_version", err)
    end)
  end)

  describe("raises for a programming error", function()
    it("an unknown option, suggesting the nearest name", function()
      assert.has_error(function() wolfssl.context({ role = "client", verfy = "none" }) end,
        "unknown option 'verfy' (did you mean 'verify'?)")
      assert.has_error(function() wolfssl.context({ role = "client", ca_file = "x" }) end)
    end)

    it("a missing or unknown role", function()
      assert.has_error(function() wolfssl.context({}) end, 'option \'role\' is required ("client" or "server")')
      assert.has_error(function() wolfssl.context({ role = "both" }) end,
        "bad option 'role': expected one of client, server (got 'both')")
    end)

    it("values of the wrong type", function()
      assert.has_error(function() wolfssl.context({ role = "client", verify = true }) end,
        "bad option 'verify': expected one of none, peer, required (got boolean)")
      assert.has_error(function() wolfssl.context({ role = "client", verify_depth = "deep" }) end)
      assert.has_error(function() wolfssl.context({ role = "client", groups = { "P-265" } }) end,
        "bad option 'groups': unknown group 'P-265' (did you mean 'P-256'?)")
      assert.has_error(function() wolfssl.context({ role = "client", alpn = { "a,b" } }) end)
      assert.has_error(function() wolfssl.context("client") end)
    end)

    it("an unknown connection option", function()
      local ctx = assert(wolfssl.context({ role = "client", verify = "none" }))
      assert.has_error(function() ctx:connection({ sever_name = "x" }) end,
        "unknown connection option 'sever_name' (did you mean 'server_name'?)")
      assert.has_error(function() ctx:connection({ fd = "3" }) end)
    end)

    it("wrong argument types to methods", function()
      local ctx = assert(wolfssl.context({ role = "client", verify = "none" }))
      local conn = ctx:connection()
      assert.has_error(function() conn:feed(nil) end)
      assert.has_error(function() conn:feed({}) end)
      assert.has_error(function() conn:write(nil) end)
      assert.has_error(function() conn:read("lots") end)
      assert.has_error(function() conn:read(0) end)
      assert.has_error(function() conn.handshake(ctx) end)
      assert.has_error(function() wolfssl.certificate({}) end)
      assert.same({ nil, "cannot parse certificate (not DER or PEM)" }, { wolfssl.certificate(42) })
    end)

    it("a handler that is not an on_* function, on a context or a connection", function()
      local ctx = assert(wolfssl.context({ role = "server" }))
      local conn = ctx:connection()
      for _, obj in ipairs({ ctx, conn }) do
        -- the binding keeps its own fields next to the handlers ("context"): a handler
        -- name cannot reach them
        assert.has_error(function() obj:set_handler("context", function() end) end,
          "bad argument #1 to 'set_handler' (a handler name starts with 'on_')")
        assert.has_error(function() obj:handler("context") end)
        assert.has_error(function() obj:set_handler("on_verify", 42) end)
      end
      local fn = function() end
      conn:set_handler("on_verify", fn)
      assert.equal(fn, conn:handler("on_verify"))
      conn:set_handler("on_verify", nil)
      assert.is_nil(conn:handler("on_verify"))
      conn:close()
    end)
  end)
end)

describe("a connection's own callbacks (conn:on)", function()
  local contexts = require "spec.helpers.ctx"

  it("replace the context's for that connection only", function()
    local seen = {}
    local cctx = contexts.client({ on_verify = function() seen[#seen + 1] = "context" end })
    local sctx = contexts.server()
    local mine = cctx:connection({ server_name = "localhost" })
    mine:on("on_verify", function(_, v)
      seen[#seen + 1] = "connection"
      if v.depth == 0 then return false, "this one is refused" end
    end)
    local p = setmetatable({ client = mine, server = sctx:connection() }, require("wolfssl.pair").Pair)
    local ok, err, code = p:handshake()
    assert.is_nil(ok)
    assert.equal("verify_failed", code)
    assert.matches("this one is refused", err, 1, true)
    assert.same({ "connection" }, seen)
    -- the next connection of the same context still uses the context's callback
    assert.truthy(wolfssl.pair(cctx, sctx, { server_name = "localhost" }))
    assert.same({ "connection", "context" }, seen)
  end)

  it("refuse callbacks wolfSSL only calls through the context, and unknown names", function()
    local conn = contexts.server():connection()
    for _, name in ipairs({ "on_psk", "on_ticket_key", "on_session_store", "on_session_lookup", "on_session_remove" }) do
      assert.has_error(function() conn:on(name, function() end) end,
        name .. " can only be set on a context: wolfSSL calls it through the context")
    end
    assert.has_error(function() conn:on("on_verfy", function() end) end,
      "unknown callback 'on_verfy' (did you mean 'on_verify'?)")
    assert.has_error(function() conn:on("on_verify", "yes") end, "bad argument #2 to 'on' (function expected)")
  end)
end)
