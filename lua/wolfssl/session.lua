-- Server decisions, sessions and key material: the options and helpers of this part of
-- the API, registered into wolfssl.context{} by init.lua. The C core (session.c,
-- server.c, tickets.c, psk.c, keys.c) holds the wolfSSL callbacks; this file decides
-- the defaults and reads the option values.
return function(M)
  local core = M.core
  local option, handler = M._option, M._handler

  local function bad(name, expected, got)
    error(("bad option '%s': expected %s (got %s)"):format(name, expected,
      type(got) == "string" and ("'" .. got .. "'") or type(got)), 4)
  end

  local function server_only(ctx, name)
    if ctx:role() ~= "server" then error(("option '%s' is for server contexts"):format(name), 0) end
  end

  -------------------------------------------------------------------------------------
  -- Sessions and tickets

  M.Session = core.Session
  M.session = core.session -- wolfssl.session(bytes) -> Session | nil, message, code
  M.random = core.random   -- wolfssl.random(n) -> n bytes (fork-safe)

  -- Rotating ticket keys derived from a shared secret. Every server given the same
  -- secret and rotation derives the same keys, so a fleet (or OpenResty's workers)
  -- resume each other's sessions. A new key every `rotation` seconds (default one hour;
  -- 0 = never rotate); a ticket stays accepted for one more period after its key stops
  -- issuing tickets (and one period early, for clock skew between servers).
  local TicketKeys = {}
  TicketKeys.__index = TicketKeys
  TicketKeys.__tostring = function(t)
    return ("wolfssl.TicketKeys (rotation %ds)"):format(t.rotation)
  end
  TicketKeys.__metatable = "wolfssl.TicketKeys"
  M.TICKET_ROTATION = 3600

  function M.ticket_keys(secret, rotation)
    if type(secret) ~= "string" or #secret < 32 then
      error("bad argument #1 to 'ticket_keys' (a secret of at least 32 bytes expected)", 2)
    end
    rotation = rotation == nil and M.TICKET_ROTATION or rotation
    if type(rotation) ~= "number" or rotation < 0 or rotation % 1 ~= 0 then
      error("bad argument #2 to 'ticket_keys' (rotation in whole seconds expected)", 2)
    end
    return setmetatable({ secret = secret, rotation = rotation }, TicketKeys)
  end

  -- the name of the key that issues tickets at `time` (default now): servers that agree
  -- on it share tickets
  function TicketKeys:name(time) return core.ticket_key_name(self.secret, self.rotation, time) end

  local function is_ticket_keys(v) return getmetatable(v) == "wolfssl.TicketKeys" end

  -- A server that verifies clients resumes sessions only as verified as they were made
  -- (csrc/session.c): tickets sealed by the binding's keys say whether their client was
  -- verified, wolfSSL's own ticket keys cannot, so such a server gets binding keys (random,
  -- per context, rotating) unless ticket_keys / on_ticket_key give some.
  local function verifies_clients(ctx, o) return ctx:role() == "server" and o.verify ~= "none" end

  option("tickets", {
    check = function(v, name) if type(v) ~= "boolean" then bad(name, "a boolean", v) end end,
    apply = function(ctx, v, o)
      local ok, err = ctx:set_tickets(v ~= false)
      if not ok then return nil, err end
      if v ~= false and verifies_clients(ctx, o) and not o.ticket_keys and not o.on_ticket_key then
        return ctx:set_ticket_keys(M.random(32), M.TICKET_ROTATION)
      end
      return true
    end,
    always = true, -- on by default, for clients and servers
  })

  option("num_tickets", {
    check = function(v, name)
      if type(v) ~= "number" or v < 0 or v > 16 or v % 1 ~= 0 then bad(name, "a number from 0 to 16", v) end
    end,
    apply = function(ctx, v) server_only(ctx, "num_tickets"); return ctx:set_num_tickets(v) end,
  })

  -- The newest `size` sessions, as exported bytes (a live WOLFSSL_SESSION is tens of KB;
  -- its export is under 1 KB), for session_cache = n.
  local function session_store(size)
    local map, ring, head, count = {}, {}, 0, 0
    local store = {}
    function store.put(id, bytes)
      if map[id] == nil then
        count = count + 1
        head = head % size + 1
        local old = ring[head]
        if old ~= nil and map[old] ~= nil then map[old] = nil; count = count - 1 end
        ring[head] = id
      end
      map[id] = bytes
    end
    function store.get(id) return map[id] end
    function store.remove(id) if map[id] ~= nil then map[id] = nil; count = count - 1 end end
    function store.count() return count end
    return store
  end

  -- session_cache: true (wolfSSL's cache), false (none), or a number: the binding's own
  -- cache of that many sessions for this context. wolfSSL's cache is one table for the
  -- whole process, of a size fixed when wolfSSL was built (33 sessions in Debian's: its
  -- set_cache_size is ignored), shared by every context (item 6).
  -- A server that verifies clients keeps its TLS 1.2 sessions in its own cache by default
  -- (as session_cache = n): wolfSSL's cache is shared by every context of the process
  -- (a session made where no client certificate was asked for would resume here), and
  -- keeps no record of whether the client was verified; the binding's keeps both apart.
  M.CLIENT_AUTH_SESSION_CACHE = 1024

  option("session_cache", {
    check = function(v, name)
      if type(v) ~= "boolean" and not (type(v) == "number" and v >= 1 and v % 1 == 0) then
        bad(name, "a boolean or a number of sessions", v)
      end
    end,
    always = true,
    apply = function(ctx, v, o)
      if v == nil then
        if not verifies_clients(ctx, o) or o.on_session_store or o.on_session_lookup or o.on_session_remove then
          return true
        end
        v = M.CLIENT_AUTH_SESSION_CACHE
      end
      server_only(ctx, "session_cache")
      if type(v) == "boolean" then return ctx:set_session_cache(v) end
      if o.on_session_store or o.on_session_lookup or o.on_session_remove then
        return nil, "give session_cache = n or the on_session_* callbacks, not both"
      end
      local store = session_store(v)
      ctx:set_handler("on_session_store", function(_, id, sess) store.put(id, sess:export()) end)
      ctx:set_handler("on_session_lookup", function(_, id) return store.get(id) end)
      ctx:set_handler("on_session_remove", function(_, id) store.remove(id) end)
      return ctx:use_session_store()
    end,
  })

  option("session_timeout", {
    check = function(v, name)
      if type(v) ~= "number" or v < 1 or v % 1 ~= 0 then bad(name, "a number of seconds", v) end
    end,
    apply = function(ctx, v) return ctx:set_session_timeout(v) end,
  })

  option("ticket_keys", {
    check = function(v, name)
      if not is_ticket_keys(v) and not (type(v) == "string" and #v >= 32) then
        bad(name, "wolfssl.ticket_keys(secret[, rotation]) or a secret of at least 32 bytes", v)
      end
    end,
    apply = function(ctx, v, o)
      server_only(ctx, "ticket_keys")
      if o.on_ticket_key then return nil, "give ticket_keys or on_ticket_key, not both" end
      if type(v) == "string" then v = M.ticket_keys(v) end
      return ctx:set_ticket_keys(v.secret, v.rotation)
    end,
  })

  handler("on_session", function(ctx)
    if ctx:role() ~= "client" then
      error("on_session is for client contexts (a server keeps sessions with on_session_store)", 0)
    end
    return true
  end)
  handler("on_ticket_key", function(ctx) server_only(ctx, "on_ticket_key"); return ctx:use_ticket_key_handler() end, true)
  local function store(ctx) server_only(ctx, "on_session_store"); return ctx:use_session_store() end
  handler("on_session_store", store, true)
  handler("on_session_lookup", store, true)
  handler("on_session_remove", store, true)

  -- ctx:connection{session = s}: offer a session saved from an earlier connection. One
  -- the server no longer knows just means a full handshake (info().resumed == false).
  M._connection_options.session = true
  table.insert(M._connection_setup, function(conn, opts)
    local s = opts.session
    if s == nil then return true end
    if not core.is_session(s) then
      conn:close()
      error("bad option 'session': expected a Session (from conn:session() or wolfssl.session(bytes))", 4)
    end
    if conn:role() ~= "client" then conn:close(); error("option 'session' is for client connections", 4) end
    conn:set_session(s) -- false when wolfSSL will not offer it: a full handshake follows
    return true
  end)

  -------------------------------------------------------------------------------------
  -- Server decisions: SNI, ALPN (the `alpn` option in init.lua), certificate

  handler("on_sni")
  handler("on_alpn")
  handler("on_certificate")

  -------------------------------------------------------------------------------------
  -- PSK

  -- TLS 1.2 needs PSK cipher suites; TLS 1.3 uses its usual suites. Forward secrecy:
  -- ECDHE-PSK only by default (PSK-AES128-GCM is not in the distribution's wolfSSL).
  M.DEFAULT_PSK_CIPHERS = "ECDHE-PSK-CHACHA20-POLY1305"
  -- wolfSSL's TLS 1.2 ECDHE-PSK client computes its key share on its own first group,
  -- whatever curve the server chose: with X25519 first it fails (-352 "Bad ECC Peer
  -- Key") against a server that picks P-256, and a wolfSSL server picks P-256 for it
  -- (measured on 5.5.4). So a PSK client that may speak TLS 1.2 puts P-256 first.
  M.DEFAULT_PSK_GROUPS = { "P-256", "X25519", "P-384" }

  handler("on_psk", function(ctx) return ctx:use_psk() end, true)

  option("psk", {
    check = function(v, name)
      if type(v) == "function" then return end
      if type(v) ~= "table" or type(v.identity) ~= "string" or type(v.key) ~= "string"
        or #v.identity == 0 or #v.key == 0 then
        bad(name, "{identity = string, key = string} or a function(conn, hint)", v)
      end
    end,
    apply = function(ctx, v)
      if ctx:role() ~= "client" then error("option 'psk' is for client contexts (a server uses on_psk)", 0) end
      local fn = v
      if type(v) == "table" then
        local identity, key = v.identity, v.key
        fn = function() return identity, key end
      end
      ctx:set_handler("on_psk", fn)
      return ctx:use_psk()
    end,
  })

  option("psk_hint", {
    check = function(v, name) if type(v) ~= "string" then bad(name, "a string", v) end end,
    apply = function(ctx, v) server_only(ctx, "psk_hint"); return ctx:use_psk(v) end,
  })

  -------------------------------------------------------------------------------------
  -- Key log (NSS format, for Wireshark): keylog = path | function(line, conn) | true,
  -- where true means "the file named by SSLKEYLOGFILE, if set". Opt-in only: the
  -- environment variable alone never turns it on, and keylog = true without it costs
  -- nothing. TLS 1.2 gives one CLIENT_RANDOM line after the handshake; TLS 1.3 five lines
  -- (handshake and application traffic secrets of both sides, exporter secret), each as
  -- its secret is derived (csrc/keys.c, csrc/record.c).

  local function file_writer(path)
    return function(line)
      local f, err = io.open(path, "a")
      if not f then error("cannot write the key log: " .. tostring(err), 0) end
      f:write(line, "\n")
      f:close()
    end
  end

  local function check_keylog(v, name)
    if v ~= true and type(v) ~= "string" and type(v) ~= "function" then
      bad(name, "a path, a function(line, conn) or true", v)
    end
  end

  -- path | function | true -> the function lines go to, or nil (true without
  -- SSLKEYLOGFILE), or nil, message
  local function keylog_sink(v)
    if v == true then
      v = os.getenv("SSLKEYLOGFILE")
      if v == nil or v == "" then return nil end
    end
    if type(v) == "string" then
      local f, err = io.open(v, "a")
      if not f then return nil, "cannot open the key log: " .. tostring(err) end
      f:close()
      return file_writer(v)
    end
    return v
  end

  option("keylog", {
    check = check_keylog,
    apply = function(ctx, v)
      local fn, err = keylog_sink(v)
      if err then return nil, err end
      if fn then ctx:set_handler("on_keylog", fn) end
      return true
    end,
  })

  -- ctx:connection{keylog = path | function(line, conn) | true}: this connection's key
  -- log (instead of the context's); true keeps the lines for conn:keylog() only.
  M._connection_options.keylog = true
  table.insert(M._connection_setup, function(conn, opts)
    local v = opts.keylog
    if v == nil then return true end
    if v ~= true and type(v) ~= "string" and type(v) ~= "function" then
      conn:close()
      error("bad option 'keylog': expected a path, a function(line, conn) or true (got " .. type(v) .. ")", 4)
    end
    if v == true then return conn:set_keylog(true) end
    local fn, err = keylog_sink(v)
    if not fn then return nil, err end
    conn:set_handler("on_keylog", fn)
    return true
  end)
end
