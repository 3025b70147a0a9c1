-- `make bench-plot`: the results of the last `make bench` as one PNG (gnuplot).
--   lua bench/plot.lua build/bench/results.txt bench/results.png
-- Left: every throughput workload relative to raw C wolfSSL (1.0 = the limit; higher
-- is better), with the issue's targets as lines. Right: W4, server memory per idle
-- connection in KiB (lower is better).
local input, output = arg[1], arg[2]
assert(input and output, "usage: plot.lua RESULTS PNG")

local rows, order, load = {}, {}, "?"
for line in io.lines(input) do
  if line:find("^#") then
    load = line:match("load (.*)$") or load
  else
    local impl, id, name, median = line:match("^([^|]*)|([^|]*)|([^|]*)|([^|]*)|")
    if impl then
      if not rows[name] then rows[name] = { id = id }; order[#order + 1] = name end
      rows[name][impl] = tonumber(median)
    end
  end
end

local dir = output:match("^(.*)/") or "."
local tmp = os.tmpname()
local IMPLS = { "lw-fd", "lw-mem", "luasec" }

local f = assert(io.open(tmp .. ".ratio", "w"))
for _, name in ipairs(order) do
  local r = rows[name]
  if r.id ~= "W4" and r.id ~= "W5" and r.raw then
    local label = name:gsub("^W%S+ ", ""):gsub(" ", "\\n", 1)
    local cells = { '"' .. r.id .. " " .. label .. '"' }
    for _, impl in ipairs(IMPLS) do cells[#cells + 1] = r[impl] and ("%.3f"):format(r[impl] / r.raw) or "-" end
    f:write(table.concat(cells, " "), "\n")
  end
end
f:close()

local mem_impls = { "raw", "lw-fd", "lw-fd+release", "lw-mem", "luasec" }
f = assert(io.open(tmp .. ".mem", "w"))
for _, name in ipairs(order) do
  local r = rows[name]
  if r.id == "W4" then
    for _, impl in ipairs(mem_impls) do
      if r[impl] then f:write(('"%s" %.1f\n'):format(impl, r[impl] / 1024)) end
    end
  end
end
f:close()

local script = ([[
set terminal pngcairo size 1400,620 font "sans,10"
set output "%s"
set multiplot layout 1,2 title "lua-wolfssl vs raw C wolfSSL 5.5.4 and LuaSec (load at run: %s)"
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top left
set logscale y 2
set yrange [0.25:16]
set ytics ("0.25" 0.25, "0.5" 0.5, "0.8" 0.8, "1" 1, "2" 2, "4" 4, "8" 8, "16" 16)
set tmargin 5
set size 0.68,0.95
set origin 0,0
set title "throughput relative to raw C wolfSSL (log scale; 1 = raw; dashed: targets 0.95 fd, 0.8 memory)"
set xtics rotate by -30 font ",8"
plot "%s.ratio" using 2:xtic(1) title "lua-wolfssl fd" lc rgb "#1f77b4", \
     "" using 3 title "lua-wolfssl memory+LuaSocket" lc rgb "#6baed6", \
     "" using 4 title "LuaSec (OpenSSL)" lc rgb "#ff7f0e", \
     0.95 with lines dt 2 lc rgb "#1f77b4" title "", 0.8 with lines dt 2 lc rgb "#6baed6" title ""
set size 0.32,0.95
set origin 0.68,0
unset logscale y
set yrange [0:*]
set ytics auto
set title "W4: server memory per idle connection (KiB RSS)"
set style data boxes
set boxwidth 0.6
set xtics rotate by -30 font ",9"
unset key
plot "%s.mem" using 0:2:xtic(1) with boxes lc rgb "#2ca02c", "" using 0:2:(sprintf("%%.1f", $2)) with labels offset 0,0.7
unset multiplot
]]):format(output, load, tmp, tmp)
f = assert(io.open(tmp .. ".gp", "w"))
f:write(script)
f:close()
local ok = os.execute("gnuplot " .. tmp .. ".gp")
os.remove(tmp .. ".ratio"); os.remove(tmp .. ".mem"); os.remove(tmp .. ".gp"); os.remove(tmp)
assert(ok == true or ok == 0, "gnuplot failed")
print("wrote " .. output .. " (" .. dir .. ")")

-- the same results as a Markdown table, for the README
local md = { "| workload | raw C | lua-wolfssl fd | lua-wolfssl memory | LuaSec |", "|---|---|---|---|---|" }
for _, name in ipairs(order) do
  local r = rows[name]
  if r.id ~= "W5" then
    local cells = { name }
    for _, impl in ipairs({ "raw", "lw-fd", "lw-mem", "luasec" }) do
      local v = r[impl]
      if not v then cells[#cells + 1] = "n/a"
      elseif r.id == "W4" then
        cells[#cells + 1] = impl == "raw" and ("%.1f KiB"):format(v / 1024)
          or ("%.1f KiB (%+.1f)"):format(v / 1024, (v - r.raw) / 1024)
      else
        local unit = r.id == "W3" and " MB/s" or " hs/s"
        cells[#cells + 1] = impl == "raw" and ("%.0f%s"):format(v, unit)
          or ("%.0f (%.2fx)"):format(v, v / r.raw)
      end
    end
    md[#md + 1] = "| " .. table.concat(cells, " | ") .. " |"
  end
end
print()
print(table.concat(md, "\n"))
