-- busted output handler for CI: prints like the plain terminal handler, and appends
-- "successes failures errors pending" to the file named by $BUSTED_SUMMARY when the
-- suite ends, so .ci/run can add up several runs into one "N passed, M failed" line.
return function(options)
  local busted = require "busted"
  local handler = require("busted.outputHandlers.plainTerminal")(options)
  busted.subscribe({ "suite", "end" }, function()
    local file = os.getenv("BUSTED_SUMMARY")
    if file then
      local f = io.open(file, "a")
      if f then
        f:write(("%d %d %d %d\n"):format(handler.successesCount, handler.failuresCount,
          handler.errorsCount, handler.pendingsCount))
        f:close()
      end
    end
    return nil, true
  end)
  return handler
end
