-- correlation-id.lua - a user policy element: <correlation-id header="X-Correlation-Id"/>.
--
-- Keeps the caller's correlation id, or makes one from the request id, sends it
-- to the backend, and remembers it in context.Variables["correlation-id"] so
-- that other policies (and expressions) can use it.
--
-- The contract is the built-ins' (policies/*.lua): compile(node, c) checks the
-- element once when the gateway loads, and returns the function that runs for
-- every request. This file runs in Portico's sandbox: no io, os or require.

local M = {}

-- Where the element may appear (optional; default: anywhere).
M.sections = { "inbound" }

function M.compile(node, c)
  c:check_attrs(node, { "header" })
  -- expr = false: the header name is fixed text (no @(...) expression)
  local _, _, header = c:attr(node, "header", { default = "X-Correlation-Id", expr = false })
  if not header then return nil end            -- c:attr already reported the error
  if header == "" then return c:error(node, "<correlation-id>: header is empty") end

  return function(ctx)
    local headers = ctx.request.headers
    local id = headers:get(header)
    if id == nil or id == "" then
      id = "portico-" .. ctx.Request.Method:lower() .. "-" .. ctx.RequestId
      headers:set(header, id)
    end
    ctx.variables["correlation-id"] = id
  end
end

return M
