-- busted spec of policies/rewrite-uri.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

local function rewrite(x, req)
  local _, fw = h.run_api(h.doc { inbound = x }, req)
  return fw[1].path, fw[1].query
end

describe("rewrite-uri", function()
  it("fills template parameters from the matched ones", function()
    local path, query = rewrite('<rewrite-uri template="/v2/items/{id}/detail"/>')
    assert.equal("/v2/items/42/detail", path)
    assert.equal("x=1", query)
  end)

  it("adds the template's query and copies unmatched parameters (APIM's example)", function()
    -- operation search: /orders?status={status}; request /orders?status=open&c=d
    local req = { operation_id = "search", rest = "/orders", query = "status=open&c=d",
      matched = { status = "open" } }
    local path, query = rewrite('<rewrite-uri template="/put?s={status}"/>', req)
    assert.equal("/put", path)
    assert.equal("s=open&c=d", query)
    path, query = rewrite('<rewrite-uri template="/put" copy-unmatched-params="false"/>', req)
    assert.equal("/put", path)
    assert.equal("", query)
  end)

  it("is a path, not a URL", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = '<rewrite-uri template="http://x/y"/>' } }))
    assert.matches("the template is a path relative to the backend's base URL", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<rewrite-uri/>' } }))
    assert.matches("attribute 'template' is required", errs[1])
  end)

  it("takes a template expression", function()
    local path, query = rewrite([[<rewrite-uri template="@("/v" + context.Request.Headers.GetValueOrDefault("X-V", "1") + "/{id}")"/>]],
      { headers = { { "Host", "gw" }, { "X-V", "3" } } })
    assert.equal("/v3/42", path)
    assert.equal("x=1", query)
  end)
end)
