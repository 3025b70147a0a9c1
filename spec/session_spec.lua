-- A client keeps a session and resumes it (TLS 1.2 and 1.3), in memory: from the
-- connection, from exported bytes, on another server that shares ticket keys, through
-- an external session cache; and what happens when the server will not resume.
local wolfssl = require "wolfssl"
local certs = require "spec.helpers.certs"
local contexts = require "spec.helpers.ctx"
local Pair = require("wolfssl.pair").Pair

local server_ctx = contexts.server
local client_ctx = contexts.localhost_client

local NAME = ("lua-wolfssl-tk01")   -- 16 bytes: a ticket key name
local SECRET = ("s"):rep(32)

for _, version in ipairs({ "tls1.2", "tls1.3" }) do
  local V = { max_version = version }

  describe(version .. " sessions in memory", function()
    after_each(function() wolfssl.core._test_time_offset(0) end)

    it("come from conn:session() right after the handshake, with no read needed", function()
      local sctx, cctx = server_ctx(V), client_ctx(V)
      local p = assert(wolfssl.pair(cctx, sctx))
      local sess = assert(p.client:session())
      assert.is_true(sess:resumable())
      assert.is_true(sess:has_ticket())
      assert.matches("^wolfssl.Session %(resumable, ticket%)", tostring(sess))
      assert.is_true(sess:lifetime() > 0)
      assert.is_true(math.abs(sess:time() - os.time()) < 5)
      assert.equal(p.client:info().cipher, sess:cipher())
      local again = assert(wolfssl.pair(cctx, sctx, { client = { session = sess } }))
      assert.is_true(again.client:info().resumed)
      assert.is_true(again.server:info().resumed)
      assert.equal("resumed", again:transfer("client", "resumed"))
    end)

    it("survive export and import (a new context, as in a new process)", function()
      local sctx = server_ctx(V)
      local p = assert(wolfssl.pair(client_ctx(V), sctx))
      local bytes = assert(p.client:session()):export()
      assert.is_true(#bytes > 100)
      local sess = assert(wolfssl.session(bytes))
      assert.equal(bytes, sess:export())
      local again = assert(wolfssl.pair(client_ctx(V), sctx, { client = { session = sess } }))
      assert.is_true(again.client:info().resumed)
    end)

    it("fall back to a full handshake on a server that cannot resume them", function()
      -- TLS 1.2: wolfSSL's client alone would fail here with -373 (wolfssl-notes item 6)
      local p = assert(wolfssl.pair(client_ctx(V), server_ctx(V)))
      local sess = assert(p.client:session())
      local other = assert(wolfssl.pair(client_ctx(V), server_ctx(V), { client = { session = sess } }))
      assert.is_false(other.client:info().resumed)
      assert.is_false(other.server:info().resumed)
      assert.equal("works", other:transfer("client", "works"))
      -- and the new session from that full handshake resumes where it came from
      local fresh = assert(other.client:session())
      assert.truthy(fresh)
    end)

    it("reach on_session(conn, sess) for every new session, and a throwing one fails the call", function()
      local got = {}
      local cctx = client_ctx({ max_version = version, on_session = function(conn, sess)
        got[#got + 1] = { conn = conn, sess = sess }
      end })
      local sctx = server_ctx({ max_version = version, num_tickets = 2 })
      local p = assert(wolfssl.pair(cctx, sctx))
      assert(p.client:session()) -- handles the TLS 1.3 tickets waiting in memory
      assert.equal(version == "tls1.3" and 2 or 1, #got)
      assert.equal(p.client, got[1].conn)
      assert.is_true(got[#got].sess:resumable())
      local again = assert(wolfssl.pair(client_ctx(V), sctx, { client = { session = got[#got].sess } }))
      assert.is_true(again.client:info().resumed)

      cctx:on("on_session", function() error("session store is full") end)
      local p2, err, code = wolfssl.pair(cctx, sctx)
      if version == "tls1.2" then -- the session is made during the handshake
        assert.is_nil(p2)
      else                        -- the tickets arrive after it
        assert.truthy(p2)
        _, err, code = p2.client:session()
      end
      assert.equal("callback", code)
      assert.matches("callback error: .*session store is full", err)
    end)

    if version == "tls1.3" then
      it("keep the data of a read whose ticket made on_session throw, and fail the next call", function()
        local cctx = client_ctx({ max_version = version, on_session = function() error("session store is full") end })
        local p = assert(wolfssl.pair(cctx, server_ctx(V)))
        assert(p.server:write("hello"))
        p.client:feed(p.server:take()) -- the tickets and the data in one go
        assert.equal("hello", p.client:read())
        for _ = 1, 2 do -- latched, like any callback error
          local data, err, code = p.client:read()
          assert.is_nil(data)
          assert.equal("callback", code)
          assert.matches("^callback error: .*session store is full$", err)
        end
      end)
    end

    it("are not offered, and not issued, when tickets = false and the cache is off", function()
      local sctx = server_ctx({ max_version = version, tickets = false, session_cache = false })
      local p = assert(wolfssl.pair(client_ctx(V), sctx))
      local sess, err, code = p.client:session()
      assert.is_nil(sess)
      assert.equal("wantread", code)
      assert.equal(version == "tls1.3" and "no resumable session yet: the server has not sent a session ticket"
        or "no resumable session: the server sent neither a session id nor a ticket", err)
    end)

    it("resume on a second server that shares ticket_keys, and within one rotation", function()
      local keys = wolfssl.ticket_keys(SECRET, 60)
      local a, b = server_ctx({ max_version = version, ticket_keys = keys }),
                   server_ctx({ max_version = version, ticket_keys = keys })
      local cctx = client_ctx(V)
      local sess = assert(assert(wolfssl.pair(cctx, a)).client:session())
      assert.is_true(assert(wolfssl.pair(cctx, b, { client = { session = sess } })).client:info().resumed)
      -- a server with another secret cannot read the ticket: full handshake
      local c = server_ctx({ max_version = version, ticket_keys = wolfssl.ticket_keys(("x"):rep(32), 60) })
      assert.is_false(assert(wolfssl.pair(cctx, c, { client = { session = sess } })).client:info().resumed)
      -- the next period still accepts the previous key; two periods on it is gone
      wolfssl.core._test_time_offset(60)
      assert.is_true(assert(wolfssl.pair(cctx, b, { client = { session = sess } })).client:info().resumed)
      wolfssl.core._test_time_offset(150)
      local late = assert(wolfssl.pair(cctx, b, { client = { session = sess } }))
      assert.is_false(late.client:info().resumed)
      assert.equal("still works", late:transfer("client", "still works"))
    end)

    it("resume through on_sni when the front context and its sites share ticket_keys", function()
      -- TLS 1.2 reads a ticket before on_sni runs (with the front context's keys) and
      -- issues one after it (with the site's), so both need the same keys
      local keys = wolfssl.ticket_keys(SECRET)
      local site = server_ctx({ max_version = version, ticket_keys = keys })
      local front = assert(wolfssl.context({ role = "server", max_version = version, ticket_keys = keys,
        on_sni = function() return site end }))
      local cctx = client_ctx(V)
      local sess = assert(assert(wolfssl.pair(cctx, front)).client:session())
      local again = assert(wolfssl.pair(cctx, front, { client = { session = sess } }))
      assert.is_true(again.client:info().resumed)
      assert.equal("CN=localhost", tostring(again.client:peer_certificate():subject()))
    end)

    it("name the ticket key by secret and time, the same in every process", function()
      local keys = wolfssl.ticket_keys(SECRET, 60)
      assert.equal(16, #keys:name(120))
      assert.equal(keys:name(120), keys:name(179))
      assert.not_equal(keys:name(120), keys:name(180))
      assert.equal(keys:name(120), wolfssl.ticket_keys(SECRET, 60):name(120))
      assert.not_equal(keys:name(120), wolfssl.ticket_keys(SECRET .. "!", 60):name(120))
      -- the key that issued a ticket names it
      local sctx = server_ctx({ max_version = version, ticket_keys = keys })
      local sess = assert(assert(wolfssl.pair(client_ctx(V), sctx)).client:session())
      assert.truthy(sess:export():find(keys:name(), 1, true))
    end)

    it("use on_ticket_key's keys, asking Lua once per handshake", function()
      local calls, names = 0, {}
      local on_key = function(conn, name)
        calls = calls + 1
        if name == nil then return NAME, SECRET end
        names[#names + 1] = name
        if name == NAME then return SECRET end
        return nil
      end
      local sctx = server_ctx({ max_version = version, on_ticket_key = on_key })
      local cctx = client_ctx(V)
      local sess = assert(assert(wolfssl.pair(cctx, sctx)).client:session())
      assert.truthy(sess:export():find(NAME, 1, true))
      calls = 0
      assert.is_true(assert(wolfssl.pair(cctx, sctx, { client = { session = sess } })).client:info().resumed)
      assert.same({ NAME }, names)
      assert.is_true(calls <= 2) -- one lookup (cached), plus a fresh ticket in TLS 1.3
      -- an unknown name: full handshake, and still one Lua call for the lookup
      names = {}
      local other = server_ctx({ max_version = version, on_ticket_key = function(conn, name)
        if name == nil then return ("n"):rep(16), SECRET end
        names[#names + 1] = name
      end })
      assert.is_false(assert(wolfssl.pair(cctx, other, { client = { session = sess } })).client:info().resumed)
      assert.equal(1, #names)
    end)

    it("report an on_ticket_key that throws or returns the wrong things", function()
      local cases = {
        { function() error("no key for you") end, "no key for you" },
        { function() return "short", SECRET end, "must return a 16%-byte name and a secret" },
        { function() return NAME, "tiny" end, "at least 32 bytes" },
        { function() return NAME, 42 end, "must return a 16%-byte name and a secret" },
      }
      for _, case in ipairs(cases) do
        local sctx = server_ctx({ max_version = version, on_ticket_key = case[1] })
        local p, err, code = wolfssl.pair(client_ctx(V), sctx)
        if p then _, err, code = p.client:session() ; if code ~= "callback" then _, err, code = p.server:read() end end
        assert.equal("callback", code, err)
        assert.matches(case[2], err)
      end
      -- a lookup that throws
      local sess = assert(assert(wolfssl.pair(client_ctx(V), server_ctx({ max_version = version,
        on_ticket_key = function() return NAME, SECRET end }))).client:session())
      local sctx = server_ctx({ max_version = version, on_ticket_key = function(conn, name)
        if name then error("lookup broke") end
        return NAME, SECRET
      end })
      local p, err, code = wolfssl.pair(client_ctx(V), sctx, { client = { session = sess } })
      assert.is_nil(p)
      assert.equal("callback", code)
      assert.matches("lookup broke", err)
    end)

    it("are refused by context options used wrongly", function()
      assert.has_error(function() wolfssl.context({ role = "client", ticket_keys = SECRET }) end,
        "option 'ticket_keys' is for server contexts")
      assert.has_error(function() wolfssl.ticket_keys("short") end)
      assert.has_error(function() wolfssl.ticket_keys(SECRET, -1) end)
      assert.has_error(function() server_ctx({ num_tickets = 99 }) end)
      local ctx, err = wolfssl.context({ role = "server", ticket_keys = SECRET, on_ticket_key = function() end })
      assert.is_nil(ctx)
      assert.equal("give ticket_keys or on_ticket_key, not both", err)
      assert.has_error(function() client_ctx():connection({ session = "bytes" }) end,
        "bad option 'session': expected a Session (from conn:session() or wolfssl.session(bytes))")
      assert.same({ nil, "not a serialised session", "bad_input" }, { wolfssl.session("garbage") })
      assert.same({ nil, "not a serialised session", "bad_input" }, { wolfssl.session("") })
    end)
  end)
end

describe("a TLS 1.3 session", function()
  it("is not there before the ticket arrives, and is once it has been fed", function()
    local c = client_ctx():connection()
    local s = server_ctx():connection()
    local p = setmetatable({ client = c, server = s }, Pair)
    -- drive by hand so the server's ticket is still in flight when the client finishes
    assert.equal("wantread", select(3, c:handshake()))
    p:flush()
    assert.equal("wantread", select(3, s:handshake()))
    p:flush()
    assert.is_true(c:handshake())
    local sess, err, code = c:session()
    assert.is_nil(sess)
    assert.equal("wantread", code)
    assert.matches("no resumable session yet", err)
    c:write("data before the ticket is read")
    p:flush()
    assert.is_true(s:handshake()) -- reads the Finished, sends the ticket
    p:flush()
    sess = assert(c:session())
    assert.is_true(sess:resumable())
    -- the application data that came with it is still there for read()
    assert.equal("server says hi", p:transfer("server", "server says hi"))
  end)

  it("is not offered by a TLS 1.2-only client, which then makes a full handshake", function()
    local sctx = server_ctx()
    local sess = assert(assert(wolfssl.pair(client_ctx(), sctx)).client:session())
    local p = assert(wolfssl.pair(client_ctx({ max_version = "tls1.2" }), sctx, { client = { session = sess } }))
    assert.is_false(p.client:info().resumed)
    assert.equal("TLSv1.2", p.client:info().version)
    local c = client_ctx({ max_version = "tls1.2" }):connection()
    assert.same({ false, "a TLS 1.3 session cannot be offered by a TLS 1.2 client" }, { c:set_session(sess) })
  end)

  it("can be asked for before the handshake only to be told so", function()
    local c = client_ctx():connection()
    assert.same({ nil, "no session before the handshake is done", "wantread" }, { c:session() })
    local s = server_ctx():connection()
    local sess = assert(assert(wolfssl.pair(client_ctx(), server_ctx())).client:session())
    assert.has_error(function() s:set_session(sess) end)
  end)
end)

describe("a TLS 1.2 session", function()
  it("resumes as TLS 1.2 from a client that also speaks 1.3 (wolfSSL offers the session's version)", function()
    local sctx = server_ctx()
    local sess = assert(assert(wolfssl.pair(client_ctx({ max_version = "tls1.2" }), sctx)).client:session())
    local p = assert(wolfssl.pair(client_ctx(), sctx, { client = { session = sess } }))
    assert.is_true(p.client:info().resumed)
    assert.equal("TLSv1.2", p.client:info().version)
  end)

  it("is not offered by a TLS 1.3-only client, which then makes a full handshake", function()
    local sctx = server_ctx()
    local sess = assert(assert(wolfssl.pair(client_ctx({ max_version = "tls1.2" }), sctx)).client:session())
    local cctx = client_ctx({ min_version = "tls1.3" })
    assert.same({ false, "a TLS 1.2 session cannot be offered by a TLS 1.3-only client" },
      { cctx:connection():set_session(sess) })
    local p = assert(wolfssl.pair(cctx, sctx, { client = { session = sess } }))
    assert.is_false(p.client:info().resumed)
    assert.equal("TLSv1.3", p.client:info().version)
  end)
end)

describe("an external session cache (TLS 1.2 session ids)", function()
  local V = { max_version = "tls1.2", tickets = false }

  it("stores new sessions and resumes them on another context through the lookup", function()
    local store, lookups = {}, {}
    local hooks = {
      max_version = "tls1.2", tickets = false,
      on_session_store = function(conn, id, sess)
        assert.equal("server", conn:role())
        store[id] = sess:export()
      end,
      on_session_lookup = function(conn, id)
        lookups[#lookups + 1] = id
        return store[id]
      end,
    }
    local a, b = server_ctx(hooks), server_ctx(hooks)
    local cctx = client_ctx(V)
    local p = assert(wolfssl.pair(cctx, a))
    local sess = assert(p.client:session())
    assert.truthy(store[sess:id()])
    assert.equal(32, #sess:id())
    local again = assert(wolfssl.pair(cctx, b, { client = { session = sess } }))
    assert.is_true(again.client:info().resumed)
    assert.same({ sess:id() }, lookups)
    -- a Session object works as a lookup answer too
    hooks.on_session_lookup = function(conn, id) return wolfssl.session(store[id]) end
    local c = server_ctx(hooks)
    assert.is_true(assert(wolfssl.pair(cctx, c, { client = { session = sess } })).client:info().resumed)
    -- an unknown id: full handshake
    hooks.on_session_lookup = function() return nil end
    local d = server_ctx(hooks)
    assert.is_false(assert(wolfssl.pair(cctx, d, { client = { session = sess } })).client:info().resumed)
  end)

  it("can be the binding's own, per context, of a given size (session_cache = n)", function()
    local a = server_ctx({ max_version = "tls1.2", tickets = false, session_cache = 2 })
    local b = server_ctx({ max_version = "tls1.2", tickets = false, session_cache = 2 })
    local cctx = client_ctx(V)
    local sessions = {}
    for i = 1, 3 do sessions[i] = assert(assert(wolfssl.pair(cctx, a)).client:session()) end
    local function resumes(sctx, sess)
      return assert(wolfssl.pair(cctx, sctx, { client = { session = sess } })).client:info().resumed
    end
    assert.is_false(resumes(a, sessions[1])) -- the oldest was pushed out
    assert.is_true(resumes(a, sessions[3]))
    assert.is_false(resumes(b, sessions[3])) -- another context's cache: not wolfSSL's shared one
    local ctx, err = wolfssl.context({ role = "server", session_cache = 5, on_session_lookup = function() end })
    assert.is_nil(ctx)
    assert.equal("give session_cache = n or the on_session_* callbacks, not both", err)
    assert.has_error(function() server_ctx({ session_cache = 0 }) end)
  end)

  it("hears about an expired session through on_session_remove instead of resuming it", function()
    local store, removed = {}, {}
    local hooks = {
      max_version = "tls1.2", tickets = false, session_timeout = 1,
      on_session_store = function(conn, id, sess) store[id] = sess:export() end,
      on_session_lookup = function(conn, id) return store[id] end,
      on_session_remove = function(conn, id) removed[#removed + 1] = id; store[id] = nil end,
    }
    local sctx = server_ctx(hooks)
    local cctx = client_ctx({ max_version = "tls1.2", tickets = false, session_timeout = 60 })
    local sess = assert(assert(wolfssl.pair(cctx, sctx)).client:session())
    require("socket").sleep(2.1) -- wolfSSL's session clock has whole seconds
    local saved = store[sess:id()]
    local p = assert(wolfssl.pair(cctx, sctx, { client = { session = sess } }))
    assert.is_false(p.client:info().resumed)
    assert.same({ sess:id() }, removed)
    assert.is_nil(store[sess:id()])
    -- and one that throws is reported like any callback
    hooks.on_session_lookup = function() return saved end
    hooks.on_session_remove = function() error("cannot delete") end
    local _, err, code = wolfssl.pair(cctx, server_ctx(hooks), { client = { session = sess } })
    assert.equal("callback", code)
    assert.matches("cannot delete", err)
  end)

  it("reports lookups and stores that throw or return the wrong things", function()
    local store = {}
    local good = {
      max_version = "tls1.2", tickets = false,
      on_session_store = function(conn, id, sess) store[id] = sess end,
      on_session_lookup = function(conn, id) return store[id] end,
    }
    local cctx = client_ctx(V)
    local sess = assert(assert(wolfssl.pair(cctx, server_ctx(good))).client:session())
    for _, case in ipairs({
      { on_session_lookup = function() error("cache is down") end, "cache is down" },
      { on_session_lookup = function() return 42 end, "must return a Session, exported bytes or nil" },
      { on_session_lookup = function() return "junk" end, "not a session" },
      { on_session_store = function() error("disk full") end, "disk full" },
    }) do
      local o = {}
      for k, v in pairs(good) do o[k] = v end
      for k, v in pairs(case) do if type(k) == "string" then o[k] = v end end
      -- a lookup needs a session to look up; a store happens on a full handshake
      local offer = o.on_session_lookup ~= good.on_session_lookup and sess or nil
      local p, err, code = wolfssl.pair(cctx, server_ctx(o), { client = { session = offer } })
      assert.is_nil(p)
      assert.equal("callback", code)
      assert.matches(case[1], err)
    end
  end)
end)
