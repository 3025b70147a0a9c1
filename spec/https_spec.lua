-- wolfssl.https.request: LuaSocket's HTTP client over lua-wolfssl. It verifies the
-- server and checks the URL's host name by default, where LuaSec's https verifies
-- nothing.
local socket = require "socket"
local ltn12 = require "ltn12"
local wolfssl = require "wolfssl"
local https = require "wolfssl.https"
local certs = require "spec.helpers.certs"
local peer = require "spec.helpers.peer"
local tmp = require "spec.helpers.tmp"

local LUA = os.getenv("LW_LUA") or "lua5.4"

-- A small HTTPS server (wolfssl.socket, its own process) for `n` connections:
--   GET /hello     -> 200 "hello over TLS"
--   POST /echo     -> 200 "<method> <body>"
--   GET /old       -> 302 to https://<host>/hello (LuaSocket follows only absolute
--                     https locations from an https page)
--   GET /slow      -> says nothing for 3 s
local function server(kind, n)
  local script = tmp.write(("https-server%d.lua"):format(math.random(1e9)), ([[
    local socket = require "socket"
    local ssl = require "wolfssl.socket"
    local ctx = assert(ssl.newcontext({ mode = "server", protocol = "any", certificate = %q, key = %q }))
    local server = assert(socket.bind("127.0.0.1", 0))
    local _, port = server:getsockname()
    print("listening " .. port)
    io.stdout:flush()
    for _ = 1, %d do
      local conn = assert(ssl.wrap(assert(server:accept()), ctx))
      conn:settimeout(5)
      if conn:dohandshake() then
        local line = conn:receive() or ""
        local method, path = line:match("^(%%u+) (%%S+)")
        local headers = {}
        while true do
          local h = conn:receive()
          if not h or h == "" then break end
          local k, v = h:match("^([^:]+):%%s*(.*)$")
          if k then headers[k:lower()] = v end
        end
        local body = headers["content-length"] and conn:receive(tonumber(headers["content-length"])) or ""
        local status, reply, extra = "200 OK", "", ""
        if path == "/hello" then reply = "hello over TLS"
        elseif path == "/echo" then reply = method .. " " .. body .. " " .. (headers.host or "")
        elseif path == "/old" then status, extra = "302 Found", "Location: https://" .. headers.host .. "/hello\r\n"
        elseif path == "/slow" then socket.sleep(3)
        else status = "404 Not Found" end
        conn:send(("HTTP/1.1 %%s\r\nContent-Length: %%d\r\nConnection: close\r\n%%s\r\n%%s"):format(status, #reply, extra, reply))
      end
      conn:close()
    end
  ]]):format(certs.path(kind .. ".pem"), certs.path(kind .. ".key"), n or 1))
  local proc = peer.spawn(LUA .. " " .. tmp.quote(script), { lua = true })
  return proc, peer.wait_output(proc, "listening (%d+)")
end

describe("wolfssl.https.request", function()
  it("GETs a page from a server its CA file vouches for: body, code, headers, status", function()
    local proc, port = server("ec")
    finally(function() peer.stop(proc) end)
    local parts = {}
    local one, code, headers, status = https.request({
      url = ("https://localhost:%d/hello"):format(port),
      sink = ltn12.sink.table(parts),
      cafile = certs.path("ca.pem"),
    })
    assert.equal(1, one)
    assert.equal(200, code)
    assert.equal("HTTP/1.1 200 OK", status)
    assert.equal("14", headers["content-length"])
    assert.equal("hello over TLS", table.concat(parts))
  end)

  it("POSTs a body (string form: url and body in, body out)", function()
    local proc, port = server("ec")
    finally(function() peer.stop(proc) end)
    -- the string form takes no TLS parameters: trust comes from the system store, so
    -- this server (signed by the test CA) is refused ...
    local body, err = https.request(("https://localhost:%d/echo"):format(port), "a=1&b=2")
    assert.is_nil(body)
    assert.equal("certificate verify failed: unable to get local issuer certificate (depth 0, CN=localhost)"
      .. " (sent alert unknown_ca)", err)
    peer.stop(proc)
    -- ... and the table form with a source is the POST that works
    proc, port = server("ec")
    local parts = {}
    local ok, code = https.request({
      url = ("https://localhost:%d/echo"):format(port), method = "POST",
      source = ltn12.source.string("a=1&b=2"), headers = { ["content-length"] = 7 },
      sink = ltn12.sink.table(parts), cafile = certs.path("ca.pem"),
    })
    assert.equal(1, ok)
    assert.equal(200, code)
    assert.equal(("POST a=1&b=2 localhost:%d"):format(port), table.concat(parts))
  end)

  it("refuses a certificate issued for another host, naming it", function()
    local proc, port = server("wrong-host")
    finally(function() peer.stop(proc) end)
    local ok, err = https.request({ url = ("https://localhost:%d/hello"):format(port), cafile = certs.path("ca.pem") })
    assert.is_nil(ok)
    assert.matches("^certificate verify failed: hostname mismatch %(depth 0, CN=wrong.test%)", err)
  end)

  it("accepts an untrusted server only when the request says verify = 'none'", function()
    local proc, port = server("untrusted")
    finally(function() peer.stop(proc) end)
    local parts = {}
    local ok, code = https.request({ url = ("https://localhost:%d/hello"):format(port), verify = "none",
      sink = ltn12.sink.table(parts) })
    assert.equal(1, ok)
    assert.equal(200, code)
    assert.equal("hello over TLS", table.concat(parts))
  end)

  it("follows a redirect over a new verified connection", function()
    local proc, port = server("ec", 2)
    finally(function() peer.stop(proc) end)
    local parts = {}
    local ok, code, headers = https.request({ url = ("https://localhost:%d/old"):format(port),
      sink = ltn12.sink.table(parts), cafile = certs.path("ca.pem") })
    assert.equal(1, ok)
    assert.equal(200, code)
    assert.equal(("https://localhost:%d/hello"):format(port), headers.location)
    assert.equal("hello over TLS", table.concat(parts))
  end)

  it("gives up with 'timeout' when the server does not answer in time", function()
    local proc, port = server("ec")
    finally(function() peer.stop(proc) end)
    local t0 = socket.gettime()
    local ok, err = https.request({ url = ("https://localhost:%d/slow"):format(port),
      cafile = certs.path("ca.pem"), timeout = 0.5 })
    assert.is_nil(ok)
    assert.equal("timeout", err)
    assert.is_true(socket.gettime() - t0 < 2.5)
  end)

  it("refuses what it cannot do securely or at all", function()
    assert.same({ nil, "not an https URL: http://localhost/" }, { https.request("http://localhost/") })
    assert.same({ nil, "proxy not supported" }, { https.request({ url = "https://localhost/", proxy = "http://p:1" }) })
    assert.same({ nil, "create function not permitted" },
      { https.request({ url = "https://localhost/", create = socket.tcp }) })
    assert.has_error(function() https.request(42) end)
  end)

  it("is reachable as wolfssl.https without a require of its own", function()
    assert.equal(https, wolfssl.https)
    assert.equal(require("wolfssl.socket"), wolfssl.socket)
  end)
end)

describe("compared with LuaSec's ssl.https", function()
  local ok_luasec, luasec_https = pcall(require, "ssl.https")

  it("refuses the untrusted server that LuaSec's https accepts without a word", function()
    if not ok_luasec then pending("LuaSec is not installed") return end
    local proc, port = server("untrusted", 2)
    finally(function() peer.stop(proc) end)
    local u = ("https://localhost:%d/hello"):format(port)
    local body, code = luasec_https.request(u)
    assert.equal("hello over TLS", body) -- LuaSec: verify = "none"
    assert.equal(200, code)
    local wbody, err = https.request(u)
    assert.is_nil(wbody)
    assert.matches("^certificate verify failed: ", err)
  end)
end)
