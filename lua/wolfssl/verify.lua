-- Verification policy, revocation and client-certificate options of wolfssl.context{}.
-- Loaded by init.lua, which hands over its option table interface. The C side
-- (verify.c, revocation.c) applies what is decided here.
return function(M)
  local option, core = M._option, M.core

  local function bad_option(name, expected, got)
    error(("bad option '%s': expected %s (got %s)"):format(name, expected,
      type(got) == "string" and ("'" .. got .. "'") or type(got)), 4)
  end
  local function is_bool(v, name) if type(v) ~= "boolean" then bad_option(name, "a boolean", v) end end
  local function is_bits(v, name)
    if type(v) ~= "number" or v % 1 ~= 0 or v < 0 then bad_option(name, "a number of bits", v) end
  end
  local function list_of(v)
    if type(v) == "table" and getmetatable(v) == nil then return v end
    return { v }
  end

  -------------------------------------------------------------------------------------
  -- Policy the system wolfSSL does not apply by default. Each default says why; each
  -- can be relaxed per context. A rejection names the option in its message.
  M.DEFAULT_VERIFY_POLICY = {
    -- NIST SP 800-131A has disallowed RSA under 2048 bits since 2014, and the CA/Browser
    -- Forum Baseline Requirements never issue them: a 1024-bit key is factorable.
    min_rsa_bits = 2048,
    -- P-256 is the smallest curve with 128-bit security and the smallest the Baseline
    -- Requirements allow (P-224 gives 112).
    min_ec_bits = 256,
    -- Chosen-prefix SHA-1 collisions are practical (2020), and MD5 ones forged a CA
    -- certificate in 2008: a signature made with them proves nothing. The trust
    -- anchor's own signature is never checked, so an old root still works.
    allow_sha1 = false,
    allow_md5 = false,
    -- RFC 6125 6.4.4 (and RFC 9525) retire the CN as a host name; browsers ignore it.
    allow_cn_match = false,
    -- A leaf whose extendedKeyUsage lacks serverAuth (client side) or clientAuth (server
    -- side) was issued for something else; wolfSSL enforces this itself.
    check_eku = true,
    -- A CA constrained to some names must not vouch for others; wolfSSL enforces this.
    check_name_constraints = true,
  }
  local POLICY = M.DEFAULT_VERIFY_POLICY

  option("min_rsa_bits", { check = is_bits })
  option("min_ec_bits", { check = is_bits })
  option("allow_sha1", { check = is_bool })
  option("allow_md5", { check = is_bool })
  option("allow_cn_match", { check = is_bool })
  option("check_eku", { check = is_bool })
  option("check_name_constraints", {
    check = is_bool,
    always = true, -- the last policy option applies them all, defaults included
    apply = function(ctx, _, o)
      local function get(k) if o[k] == nil then return POLICY[k] end return o[k] end
      return ctx:set_verify_policy({
        min_rsa_bits = get("min_rsa_bits"), min_ec_bits = get("min_ec_bits"),
        allow_sha1 = get("allow_sha1"), allow_md5 = get("allow_md5"),
        allow_cn_match = get("allow_cn_match"),
        relax_eku = not get("check_eku"), relax_name_constraints = not get("check_name_constraints"),
      })
    end,
  })

  M._handler("on_verify")

  -------------------------------------------------------------------------------------
  -- Revocation. `crl` is applied after `ca` (options apply in registration order), but
  -- the order no longer matters: CRLs are added unverified and checked when used
  -- (revocation.c), so an intermediate's CRL works before the intermediate is seen.

  local function is_crl(v, name)
    for _, x in ipairs(list_of(v)) do
      if type(x) ~= "string" then bad_option(name, "a path, PEM/DER data or a list of them", x) end
    end
  end

  option("crl", {
    check = is_crl,
    apply = function(ctx, v, o)
      -- every certificate of the chain is checked, so every CA needs a CRL (item 11)
      local ok, err = ctx:enable_crl()
      if not ok then return nil, err end
      for _, x in ipairs(list_of(v)) do
        local data, fmt = x, nil
        if x:find("-----BEGIN", 1, true) then fmt = "pem"
        elseif core.stat(x) == "file" then
          local rerr
          data, rerr = M._read_file(x)
          if not data then return nil, "cannot read CRL: " .. tostring(rerr) end
          fmt = data:find("-----BEGIN", 1, true) and "pem" or "der"
        elseif x:byte(1) == 0x30 then fmt = "der"
        else
          local _, serr = core.stat(x)
          return nil, "cannot open CRL: " .. tostring(serr)
        end
        local n, lerr = ctx:add_crl(data, fmt)
        if not n then return nil, lerr end
      end
      return true
    end,
  })

  -- per-context switches the connection setup below reads (weak: they go with the context)
  local pha, stapling = setmetatable({}, { __mode = "k" }), setmetatable({}, { __mode = "k" })

  option("ocsp_stapling", {
    check = function(v, name)
      if v ~= true and v ~= false and v ~= "required" then bad_option(name, "true, false or 'required'", v) end
    end,
    apply = function(ctx, v)
      if not v then return true end
      if ctx:role() ~= "client" then error("option 'ocsp_stapling' is for client contexts (servers use ocsp_response)", 0) end
      stapling[ctx] = true
      return ctx:enable_ocsp_stapling(v == "required")
    end,
  })

  -- PEM blocks of a chain after the leaf: the issuers a stapling server must know
  local function issuers_of(chain)
    local pems = {}
    for _, x in ipairs(list_of(chain)) do
      local data = M._material(x, "certificate")
      if data then
        for block in data:gmatch("%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-.-%-%-%-%-%-END CERTIFICATE%-%-%-%-%-") do
          pems[#pems + 1] = block
        end
      end
    end
    table.remove(pems, 1)
    return pems
  end

  option("ocsp_response", {
    check = function(v, name)
      if type(v) ~= "string" and type(v) ~= "function" then bad_option(name, "bytes or a function", v) end
    end,
    apply = function(ctx, v, o)
      if ctx:role() ~= "server" then error("option 'ocsp_response' is for server contexts (clients use ocsp_stapling)", 0) end
      -- wolfSSL's server needs its certificate's issuer in its own verify store to
      -- staple at all (item 11): load the chain that came with the certificate.
      for _, pem in ipairs(issuers_of(o.certificate or {})) do
        local ok, err = ctx:load_ca(pem, "pem")
        if not ok then return nil, err end
      end
      return ctx:set_ocsp_response(v)
    end,
  })

  -------------------------------------------------------------------------------------
  -- Client certificates after the handshake (TLS 1.3 post-handshake authentication):
  -- a client with a certificate offers it by default, so a server can ask later.
  option("post_handshake_auth", {
    check = is_bool,
    always = true,
    apply = function(ctx, v, o)
      if o.role == "client" then
        -- a TLS 1.3 extension: a 1.2-only client has nothing to offer
        local tls13 = o.max_version == nil or o.max_version == "tls1.3" or o.max_version == "TLSv1.3"
        if v and not tls13 then return nil, "post_handshake_auth needs TLS 1.3 (max_version)" end
        if v == nil then v = o.certificate ~= nil and tls13 end
        pha[ctx] = v or nil
      elseif v then
        -- an option on the wrong side is a programming error: it raises, as session.lua's do
        error("option 'post_handshake_auth' is for client contexts (servers call conn:request_certificate())", 0)
      end
      return true
    end,
  })

  table.insert(M._connection_setup, function(conn, _, s, ctx)
    if s.role ~= "client" or not ctx then return true end
    if pha[ctx] then conn:allow_post_handshake_auth() end
    if stapling[ctx] then conn:use_ocsp_stapling() end
    return true
  end)
end
