-- Under load and abuse the binding holds: thousands of handshakes in a row leave no
-- memory behind, hundreds of connections live side by side in one process, a closed
-- object answers every method with an error instead of a crash, objects can be
-- collected in any order (contexts first), and a callback that throws or returns the
-- wrong type fails the call that ran it, cleanly.
--
-- Under `make valgrind` (WOLFSSL_SPEC_VALGRIND=1) the counts shrink: memcheck runs
-- about 50x slower, and it checks leaks itself, byte by byte.
local socket = require "socket"
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"
local peer = require "spec.helpers.peer"

local unpack = table.unpack or unpack
local VALGRIND = os.getenv("WOLFSSL_SPEC_VALGRIND") ~= nil
local ASAN = os.getenv("WOLFSSL_SPEC_ASAN") ~= nil

local function server_ctx(extra)
  local t = { role = "server", certificate = certs.path("ec.pem"), key = certs.path("ec.key") }
  for k, v in pairs(extra or {}) do t[k] = v end
  return assert(wolfssl.context(t))
end

local function client_ctx(extra)
  local t = { role = "client", ca = certs.path("ca.pem") }
  for k, v in pairs(extra or {}) do t[k] = v end
  return assert(wolfssl.context(t))
end

local function rss()
  local f = assert(io.open("/proc/self/statm"))
  local _, res = f:read("*n", "*n")
  f:close()
  return res * 4096
end

local function lua_bytes()
  collectgarbage()
  collectgarbage()
  return collectgarbage("count") * 1024
end

describe("10,000 sequential handshakes", function()
  it("leave the Lua heap and the process RSS where they were", function()
    local N = VALGRIND and 300 or 10000
    local WARM = math.floor(N / 10)
    local cctx, sctx = client_ctx(), server_ctx()
    local function one(i)
      local p = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost" }))
      local got = p:transfer("client", "ping " .. i)
      if got ~= "ping " .. i then error("transfer " .. i .. " got " .. tostring(got)) end
      p:close()
    end
    -- The first handshakes fill one-time caches (wolfSSL's, the allocator's, Lua's
    -- string table): measure after them, at half time and at the end. A leak grows in
    -- both halves alike; a table or cache that grew once (seen with Lua 5.1) does not.
    for i = 1, WARM do one(i) end
    local lua0, rss0 = lua_bytes(), rss()
    local half = WARM + math.floor((N - WARM) / 2)
    local lua1, rss1
    for i = WARM + 1, N do
      one(i)
      if i % 500 == 0 then collectgarbage() end
      if i == half then lua1, rss1 = lua_bytes(), rss() end
    end
    local lua2, rss2 = lua_bytes(), rss()
    -- one small object per handshake would show: 4,500 x 16 bytes in the second half
    assert.is_true(lua2 - lua1 < 16 * 1024, ("Lua heap grew by %d bytes in the second half"):format(lua2 - lua1))
    assert.is_true(lua2 - lua0 < 64 * 1024, ("Lua heap grew by %d bytes"):format(lua2 - lua0))
    -- ASan's quarantine holds freed memory by design: there LeakSanitizer is the check
    if not ASAN and not VALGRIND then
      assert.is_true(rss2 - rss1 < 512 * 1024, ("RSS grew by %d bytes in the second half"):format(rss2 - rss1))
      assert.is_true(rss2 - rss0 < 1024 * 1024, ("RSS grew by %d bytes over %d handshakes"):format(rss2 - rss0, N - WARM))
    end
  end)
end)

describe("200 concurrent connections in one process", function()
  local COUNT = VALGRIND and 40 or 200

  it("handshake and echo, interleaved, over the memory transport", function()
    local cctx, sctx = client_ctx(), server_ctx()
    local pairs_ = {}
    for i = 1, COUNT do
      pairs_[i] = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost", handshake = false }))
    end
    -- one step of every handshake per round, so all of them are in flight at once
    local done = 0
    for _ = 1, 20 do
      done = 0
      for _, p in ipairs(pairs_) do
        local c_ok = p.client:handshake()
        p:flush()
        local s_ok = p.server:handshake()
        p:flush()
        if c_ok and s_ok then done = done + 1 end
      end
      if done == COUNT then break end
    end
    assert.equal(COUNT, done)
    for i, p in ipairs(pairs_) do
      assert.equal("message " .. i, p:transfer("client", "message " .. i))
      assert.equal("reply " .. i, p:transfer("server", "reply " .. i))
    end
    for _, p in ipairs(pairs_) do p:close() end
  end)

  it("handshake and echo over 2 x 200 non-blocking sockets (fd transport)", function()
    local cctx, sctx = client_ctx(), server_ctx()
    local listener = assert(socket.bind("127.0.0.1", 0, COUNT))
    local _, port = listener:getsockname()
    local socks, conns = {}, {}
    finally(function()
      for _, s in ipairs(socks) do s:close() end
      for _, c in ipairs(conns) do c:close() end
      listener:close()
    end)
    for i = 1, COUNT do
      local c = assert(socket.connect("127.0.0.1", port))
      local s = assert(listener:accept())
      socks[#socks + 1], socks[#socks + 2] = c, s
      local cc = assert(cctx:connection({ fd = c:getfd(), server_name = "localhost" }))
      local sc = assert(sctx:connection({ fd = s:getfd() }))
      cc:settimeout(0)
      sc:settimeout(0)
      conns[2 * i - 1], conns[2 * i] = cc, sc
    end
    local pending = #conns
    local done = {}
    local deadline = socket.gettime() + (VALGRIND and 300 or 60)
    while pending > 0 and socket.gettime() < deadline do
      for i, conn in ipairs(conns) do
        if not done[i] then
          local ok, err, code = conn:handshake()
          if ok then
            done[i] = true
            pending = pending - 1
          else
            assert.equal("wantread", code, err)
          end
        end
      end
    end
    assert.equal(0, pending)
    for i = 1, COUNT do
      local cc, sc = conns[2 * i - 1], conns[2 * i]
      assert.equal(#("ping " .. i), cc:write("ping " .. i))
      local got
      repeat got = sc:read() until got or socket.gettime() > deadline
      assert.equal("ping " .. i, got)
    end
  end)
end)

describe("a closed object", function()
  -- Every method of a Connection, today's and tomorrow's: called after close() it
  -- returns nil, "connection is closed", "closed" or raises a Lua error; it never
  -- crashes. Plausible arguments per method where it needs some; others get none.
  local ARGS = {
    feed = { "bytes" }, take = {}, write = { "data" }, read = { 10 },
    set_server_name = { "localhost", true, true }, set_alpn = { "h2" },
    set_handler = { "on_x", nil }, handler = { "on_x" }, settimeout = { 1 },
    use_certificate_raw = { "x", "pem", "y", "pem" },
    use_certificate = { certs.path("ec.pem"), certs.path("ec.key") },
    export_keying_material = { "EXPORTER-test", 32 },
  }

  local function check_closed(conn, name)
    local fn = wolfssl.Connection[name]
    local args = ARGS[name] or {}
    if name == "use_context" then args = { server_ctx() } end
    local ok, a, b, c = pcall(fn, conn, unpack(args))
    if ok then
      -- a method that answers after close answers honestly, never with a live result
      if a == nil and c ~= nil then
        assert.equal("closed", c, name)
        assert.equal("connection is closed", b, name)
      end
    else
      assert.is_string(a, name)
    end
  end

  it("answers every Connection method with an error, never a crash", function()
    local names = {}
    for name, fn in pairs(wolfssl.Connection) do
      if type(fn) == "function" then names[#names + 1] = name end
    end
    table.sort(names)
    assert.is_true(#names >= 20)
    for _, which in ipairs({ "fresh", "handshaken", "failed" }) do
      for _, name in ipairs(names) do
        local conn
        if which == "fresh" then
          conn = client_ctx():connection({ server_name = "localhost" })
        else
          local p = assert(wolfssl.pair(client_ctx(), server_ctx(), { server_name = "localhost" }))
          conn = p.client
          if which == "failed" then
            conn:feed(("\23\3\3\0\5junk!"))
            conn:read()
          end
        end
        assert.is_true(conn:close())
        check_closed(conn, name)
        assert.is_true(conn:close()) -- idempotent, also after the call
      end
    end
  end)

  it("keeps I/O on a closed connection a run-time outcome a script can test", function()
    local conn = client_ctx():connection({ server_name = "localhost" })
    conn:close()
    local args = { handshake = {}, read = { 10 }, write = { "x" }, feed = { "x" }, take = {}, shutdown = {}, pending = {} }
    for m, a in pairs(args) do
      local ok, err, code = conn[m](conn, unpack(a))
      assert.is_nil(ok, m)
      assert.equal("connection is closed", err, m)
      assert.equal("closed", code, m)
    end
    assert.is_true(conn:is_closed())
    assert.has_error(function() conn:set_alpn("h2") end, "attempt to use a closed connection")
  end)
end)

describe("a certificate from the fuzzer", function()
  it("lists the extensions wolfSSL's own extension parser double-frees on", function()
    -- fuzz/regress/cert: found by `make fuzz`; wolfSSL_X509_get_ext() crashed on it
    local f = assert(io.open("fuzz/regress/cert/ext-set-ext-double-free.der", "rb"))
    local der = f:read("*a")
    f:close()
    local cert = assert(wolfssl.certificate(der))
    local oids = {}
    for _, e in ipairs(cert:extensions()) do oids[#oids + 1] = e.oid end
    assert.same({ "2.5.29.17", "2.5.29.37", "2.5.29.14", "2.26.86.7332.962831.45.3540.1301512.120.7683.881542.65" }, oids)
    assert.equal("CN=localhost", tostring(cert:subject()))
  end)
end)

describe("collection order", function()
  it("collects contexts before their connections, mid-handshake and after", function()
    for round = 1, VALGRIND and 10 or 100 do
      local c, s
      do
        c = client_ctx():connection({ server_name = "localhost" })
        s = server_ctx():connection()
      end
      collectgarbage()
      if round % 2 == 0 then
        -- half of them finish the handshake with both contexts gone
        for _ = 1, 4 do c:handshake(); s:feed(c:take()); s:handshake(); c:feed(s:take()) end
        assert.is_true(c:handshake())
      else
        c:handshake(); s:feed(c:take()) -- left mid-handshake
      end
      c, s = nil, nil
      collectgarbage()
    end
  end)

  it("switches a connection to another context and collects both contexts", function()
    local s
    do
      local first, second = server_ctx(), server_ctx({ certificate = certs.path("rsa.pem"), key = certs.path("rsa.key") })
      s = first:connection()
      s:use_context(second)
    end
    collectgarbage()
    collectgarbage()
    local c = client_ctx():connection({ server_name = "localhost" })
    for _ = 1, 4 do c:handshake(); s:feed(c:take()); s:handshake(); c:feed(s:take()) end
    assert.is_true(c:handshake())
    assert.equal(wolfssl.certificate(certs.read("rsa.pem")), c:peer_certificate())
  end)

  it("lets an interpreter exit with live contexts, connections and certificates", function()
    -- lua_close runs every __gc in an order the script does not control
    local script = [[
      package.path = %q; package.cpath = %q
      local wolfssl = require "wolfssl"
      local cctx = assert(wolfssl.context{ role = "client", ca = %q })
      local sctx = assert(wolfssl.context{ role = "server", certificate = %q, key = %q })
      KEEP = {}
      for i = 1, 20 do
        local p = assert(wolfssl.pair(cctx, sctx, { server_name = "localhost", handshake = i %% 2 == 0 }))
        KEEP[#KEEP + 1] = p.client; KEEP[#KEEP + 1] = p.server
        if i %% 2 == 0 then KEEP[#KEEP + 1] = p.client:peer_certificate() end
      end
      KEEP.ctx = cctx
      print("exiting")
    ]]
    local file = require("spec.helpers.tmp").write("exit_with_objects.lua", script:format(package.path,
      package.cpath, certs.path("ca.pem"), certs.path("ec.pem"), certs.path("ec.key")))
    local proc = peer.spawn((os.getenv("LW_LUA") or "lua5.4") .. " " .. file, { lua = true })
    assert.is_true(peer.wait(proc, VALGRIND and 120 or 30))
    assert.equal("exiting\n", peer.output(proc))
  end)
end)

-- Callbacks that throw, or return what they must not. One scenario per callback kind:
-- `run(fn)` installs fn as that callback, does what makes wolfSSL call it, and returns
-- the outcome (ok, message, code). `thrown`: what a script sees when fn raises "boom";
-- `wrong`: for each wrong return value, the message (or `ok = true` where the return
-- value is documented as ignored). EXTENSION POINT: each issue that adds an on_*
-- callback adds its scenario here; a registered callback without one shows as pending.
local function handshake(cctx, sctx, copts)
  local p, err, code = wolfssl.pair(cctx, sctx, { server_name = "localhost", client = copts })
  if p then return true, p end
  return nil, err, code
end

local function tls12_cache(extra)
  local t = { tickets = false, on_session_store = function() end, on_session_lookup = function() end,
    on_session_remove = function() end }
  for k, v in pairs(extra) do t[k] = v end
  return server_ctx(t)
end

-- One TLS 1.2 session the server side holds past its timeout, made once: wolfSSL's
-- session clock counts whole seconds, so expiry costs two seconds of real time.
local expired
local function expired_session()
  if not expired then
    local store = {}
    local sctx = tls12_cache({ session_timeout = 1, on_session_store = function(_, id, sess) store[id] = sess:export() end })
    local cctx = client_ctx({ max_version = "tls1.2", tickets = false, session_timeout = 600 })
    local _, p = assert(handshake(cctx, sctx))
    local session = assert(p.client:session())
    require("socket").sleep(2.1)
    expired = { cctx = cctx, session = session, bytes = assert(store[session:id()]) }
  end
  return expired
end

local CALLBACKS = {
  password = {
    run = function(fn)
      local ctx, err = wolfssl.context({ role = "server", certificate = certs.path("ec.pem"),
        key = certs.path("ec-pk8.key"), password = fn })
      if ctx then return true end
      return nil, err, "context"
    end,
    good = function() return certs.password end,
    wrong = {
      { value = nil, message = "password callback failed: password function must return a string" },
      { value = {}, message = "password callback failed: password function must return a string" },
      { value = true, message = "password callback failed: password function must return a string" },
      { value = 42, message = "cannot decrypt private key: wrong password?" }, -- Lua's number-to-string
      { value = ("x"):rep(100000), message = "cannot decrypt private key: wrong password?" },
    },
    thrown = "password callback failed: ",
  },
  on_sni = {
    run = function(fn) return handshake(client_ctx(), server_ctx({ on_sni = fn })) end,
    good = function() return nil end,
    wrong = {
      { value = 42, message = "callback error: on_sni must return nil, a Context or false (got number)" },
      { value = true, message = "callback error: on_sni must return nil, a Context or false (got boolean)" },
      { value = {}, message = "callback error: on_sni must return nil, a Context or false (got table)" },
      { value = client_ctx, message = "callback error: on_sni must return nil, a Context or false (got function)" },
    },
  },
  on_alpn = {
    run = function(fn) return handshake(client_ctx({ alpn = { "h2", "http/1.1" } }), server_ctx({ on_alpn = fn })) end,
    good = function() return "h2" end,
    wrong = {
      { value = 42, message = "callback error: on_alpn must return a protocol name, nil or false (got number)" },
      { value = "spdy/1", message = "callback error: on_alpn returned 'spdy/1', which the client did not offer" },
      { value = {}, message = "callback error: on_alpn must return a protocol name, nil or false (got table)" },
      { value = true, message = "callback error: on_alpn must return a protocol name, nil or false (got boolean)" },
    },
  },
  on_certificate = {
    run = function(fn) return handshake(client_ctx(), server_ctx({ on_certificate = fn })) end,
    good = function() return true end,
    wrong = {
      { value = 42, message = "callback error: on_certificate must return nil, true, false or wolfssl.PAUSE (got number)" },
      { value = "yes", message = "callback error: on_certificate must return nil, true, false or wolfssl.PAUSE (got string)" },
      { value = {}, message = "callback error: on_certificate must return nil, true, false or wolfssl.PAUSE (got table)" },
    },
  },
  on_ticket_key = {
    run = function(fn) return handshake(client_ctx(), server_ctx({ on_ticket_key = fn })) end,
    good = function() return ("n"):rep(16), ("s"):rep(32) end,
    wrong = {
      { value = 42, message = "callback error: on_ticket_key(conn, nil) must return a 16-byte name and a secret" },
      { value = "short", message = "callback error: on_ticket_key(conn, nil) must return a 16-byte name and a secret" },
      { value = {}, message = "callback error: on_ticket_key(conn, nil) must return a 16-byte name and a secret" },
    },
  },
  on_psk = {
    run = function(fn)
      return handshake(client_ctx({ psk = { identity = "me", key = ("k"):rep(32) } }),
        assert(wolfssl.context({ role = "server", on_psk = fn })))
    end,
    good = function() return ("k"):rep(32) end,
    wrong = {
      { value = 42, message = "callback error: on_psk(conn, identity) must return the key (a string) or nil" },
      { value = {}, message = "callback error: on_psk(conn, identity) must return the key (a string) or nil" },
      { value = true, message = "callback error: on_psk(conn, identity) must return the key (a string) or nil" },
      { value = "wrong key", message = "handshake failed: the client's PSK does not match (binder does not verify) (sent alert decrypt_error)" },
    },
  },
  on_session = { -- client; its return value is ignored
    run = function(fn)
      local ok, p, code = handshake(client_ctx({ on_session = fn }), server_ctx())
      if not ok then return ok, p, code end
      local sess, err, code = p.client:session()
      if sess then return true end
      return nil, err, code
    end,
    good = function() end,
    wrong = { { value = 42, ok = true }, { value = {}, ok = true } },
  },
  on_session_store = { -- TLS 1.2 session ids; its return value is ignored
    run = function(fn)
      return handshake(client_ctx({ max_version = "tls1.2", tickets = false }), tls12_cache({ on_session_store = fn }))
    end,
    good = function() end,
    wrong = { { value = 42, ok = true }, { value = {}, ok = true } },
  },
  on_session_lookup = {
    run = function(fn)
      local store = {}
      local sctx = tls12_cache({ on_session_store = function(_, id, sess) store[id] = sess end, on_session_lookup = fn })
      local cctx = client_ctx({ max_version = "tls1.2", tickets = false })
      local _, p = assert(handshake(cctx, sctx))
      return handshake(cctx, sctx, { session = assert(p.client:session()) })
    end,
    good = function() return nil end,
    wrong = {
      { value = 42, message = "callback error: on_session_lookup must return a Session, exported bytes or nil" },
      { value = "not a session", message = "callback error: on_session_lookup returned bytes that are not a session" },
      { value = {}, message = "callback error: on_session_lookup must return a Session, exported bytes or nil" },
    },
  },
  on_verify = {
    run = function(fn) return handshake(client_ctx({ on_verify = fn }), server_ctx()) end,
    good = function() return true end,
    wrong = {
      { value = 42, message = "callback error: on_verify must return true, false or nil (got number)" },
      { value = "yes", message = "callback error: on_verify must return true, false or nil (got string)" },
      { value = {}, message = "callback error: on_verify must return true, false or nil (got table)" },
    },
  },
  on_message = { -- both sides; its return value is ignored
    run = function(fn)
      local ok, err, code = handshake(client_ctx({ on_message = fn }), server_ctx())
      if not ok then return ok, err, code end
      return handshake(client_ctx(), server_ctx({ on_message = fn }))
    end,
    good = function() end,
    wrong = { { value = 42, ok = true }, { value = {}, ok = true } },
  },
  on_client_hello = {
    run = function(fn) return handshake(client_ctx(), server_ctx({ on_client_hello = fn })) end,
    good = function() return true end,
    wrong = {
      { value = 42, message = "callback error: on_client_hello must return nil, true, false or wolfssl.PAUSE (got number)" },
      { value = "go", message = "callback error: on_client_hello must return nil, true, false or wolfssl.PAUSE (got string)" },
      { value = {}, message = "callback error: on_client_hello must return nil, true, false or wolfssl.PAUSE (got table)" },
    },
  },
  on_session_remove = { -- runs when a looked-up session has expired; its return value is ignored
    run = function(fn)
      local e = expired_session()
      local sctx = tls12_cache({ session_timeout = 1, on_session_lookup = function() return e.bytes end,
        on_session_remove = fn })
      local ok, p, code = handshake(e.cctx, sctx, { session = e.session })
      if ok and p.client:info().resumed then return nil, "resumed an expired session" end
      return ok, p, code
    end,
    good = function() end,
    wrong = { { value = 42, ok = true }, { value = {}, ok = true } },
  },
}
for _, sc in pairs(CALLBACKS) do sc.thrown = sc.thrown or "callback error: " end

describe("a callback", function()
  for name, sc in pairs(CALLBACKS) do
    it(("'%s' that throws fails its call with the error, every time"):format(name), function()
      for i = 1, VALGRIND and 3 or 10 do
        local ok, err = sc.run(function() error("boom " .. i, 0) end)
        assert.is_nil(ok)
        assert.equal(sc.thrown .. "boom " .. i, err)
      end
      local ok, err = sc.run(function() error({ "a table" }) end)
      assert.is_nil(ok)
      assert.matches("error object is not a string", err, 1, true)
      assert.is_true(sc.run(sc.good)) -- and nothing was left behind
    end)

    it(("'%s' that returns the wrong type fails cleanly"):format(name), function()
      for _, w in ipairs(sc.wrong) do
        local ok, err, code = sc.run(function() return w.value end)
        if w.ok then
          assert.is_true(ok, tostring(err))
        else
          assert.is_nil(ok, tostring(w.value))
          assert.equal(w.message, err)
          if w.message:find("^callback error") then assert.equal("callback", code) end
        end
      end
    end)

    it(("'%s' that tries to yield fails instead of unwinding through wolfSSL"):format(name), function()
      local co = coroutine.wrap(function()
        return sc.run(function() coroutine.yield("escaped") end)
      end)
      local ok, err = co()
      assert.is_nil(ok)
      assert.matches("yield", err)
    end)
  end

  -- a new on_* callback landed: add its scenario to CALLBACKS above
  for hname in pairs(wolfssl._handlers) do
    if not CALLBACKS[hname] then pending(("'%s' that throws or returns a wrong type (no scenario yet)"):format(hname)) end
  end
end)
