-- A private nginx with the Lua module for the specs: its own -p prefix in the test's
-- temporary directory, its own config, one process (master_process off), a free
-- loopback port, error log in the prefix, stopped by PID. Every wait is bounded.
--
--   local nginx = require "spec.helpers.nginx"
--   if not nginx.available() then pending(nginx.missing) end
--   local srv = nginx.start({ server = "location / { content_by_lua_block { ngx.say('hi') } }" })
--   ... srv.port ... nginx.stop(srv)
local socket = require "socket"
local tmp = require "spec.helpers.tmp"
local peer = require "spec.helpers.peer"

local M = {}

M.NGINX = os.getenv("NGINX") or "/usr/sbin/nginx"
M.MODULES = os.getenv("NGINX_MODULES") or "/usr/lib/nginx/modules"

-- the checkout: two levels above this file
local here = debug.getinfo(1, "S").source:match("^@(.*)/spec/helpers/[^/]*$")
if not here or here:sub(1, 1) ~= "/" then
  local p = io.popen("pwd")
  here = (p:read("*l") or ".") .. (here and here ~= "." and ("/" .. here) or "")
  p:close()
end
local root = here
M.root = root

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- The core built for LuaJIT (OpenResty's Lua): build/luajit/wolfssl/core.so.
M.core = root .. "/build/luajit/wolfssl/core.so"

-- true, or false and M.missing says what is not there.
function M.available()
  if not exists(M.NGINX) then M.missing = "nginx is not installed (" .. M.NGINX .. ")"; return false end
  if not exists(M.MODULES .. "/ngx_http_lua_module.so") then
    M.missing = "the nginx Lua module is not installed (libnginx-mod-http-lua)"
    return false
  end
  return true
end

-- Build the LuaJIT core if needed (make is a no-op when it is up to date). The specs
-- may run under `make asan` or `make test LUA=5.1`, whose variables reach a sub-make
-- through MAKEFLAGS: clear them, or this would rebuild *their* core with LuaJIT's
-- headers.
function M.build_core()
  tmp.run(("env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C %s LUA=luajit BUILD=build/luajit OPT=-O2 CFLAGS="):format(tmp.quote(root)))
  assert(exists(M.core), "no LuaJIT build of the core at " .. M.core)
end

local count = 0

-- start{server = "<directives inside server {}>", http = "<extra http directives>",
--       main = "<extra main directives>", lua_path = "<extra package.path entries>"}
--   -> {pid, port, prefix, log, proc}
function M.start(opts)
  count = count + 1
  local prefix = tmp.path(("nginx%d"):format(count))
  tmp.run(("mkdir -p %s/logs %s/tmp"):format(tmp.quote(prefix), tmp.quote(prefix)))
  local port = opts.port or peer.free_port()
  local conf = ([[
load_module %s/ndk_http_module.so;
load_module %s/ngx_http_lua_module.so;
daemon off;
master_process off;
worker_processes 1;
error_log %s/logs/error.log info;
pid %s/logs/nginx.pid;
%s
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %s/tmp;
  proxy_temp_path %s/tmp;
  fastcgi_temp_path %s/tmp;
  uwsgi_temp_path %s/tmp;
  scgi_temp_path %s/tmp;
  lua_package_path "%s%s/lua/?.lua;%s/lua/?/init.lua;%s/?.lua;;";
  lua_package_cpath "%s/build/luajit/?.so;;";
  %s
  server {
    listen 127.0.0.1:%d;
    %s
  }
}
]]):format(M.MODULES, M.MODULES, prefix, prefix, opts.main or "",
    prefix, prefix, prefix, prefix, prefix, opts.lua_path and (opts.lua_path .. ";") or "", root, root, root, root,
    opts.http or "", port, opts.server or "")
  local conf_path = prefix .. "/nginx.conf"
  local f = assert(io.open(conf_path, "wb"))
  f:write(conf)
  f:close()
  -- -e: the error log before the config is read (never /var/log/nginx)
  local proc = peer.spawn(("%s -p %s -c %s -e %s/logs/error.log"):format(M.NGINX, tmp.quote(prefix),
    tmp.quote(conf_path), tmp.quote(prefix)))
  local srv = { pid = proc.pid, proc = proc, port = port, prefix = prefix, log = prefix .. "/logs/error.log" }
  local ok, err = pcall(peer.wait_port, port, proc, 10)
  if not ok then
    M.stop(srv)
    error(tostring(err) .. "\n" .. M.errors(srv), 2)
  end
  return srv
end

function M.errors(srv) return tmp.read(srv.log) or "" end

function M.stop(srv)
  if srv then peer.stop(srv.proc) end
end

-- One HTTP/1.0 request to the nginx; returns status, body (bounded by timeout).
function M.get(srv, path, timeout)
  local c = socket.tcp()
  c:settimeout(timeout or 10)
  local ok, err = c:connect("127.0.0.1", srv.port)
  if not ok then return nil, err end
  c:send(("GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n"):format(path))
  local data, rerr, partial = c:receive("*a")
  c:close()
  data = data or partial
  if not data or data == "" then return nil, rerr end
  local status = tonumber(data:match("^HTTP/1%.%d (%d+)"))
  return status, data:match("\r\n\r\n(.*)$") or ""
end

return M
