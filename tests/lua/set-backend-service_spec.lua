-- busted spec of policies/set-backend-service.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

describe("set-backend-service", function()
  it("sends to a base URL", function()
    local _, fw = h.run_api(h.doc { inbound = '<set-backend-service base-url="https://other.example/v9"/>' })
    assert.equal("https://other.example/v9", fw[1].base_url)
    assert.is_nil(fw[1].backend_id)
    assert.equal("/orders/42", fw[1].path)
  end)

  it("sends to a backend by id (C applies its credentials, pool and breaker)", function()
    local _, fw = h.run_api(h.doc { inbound = '<set-backend-service backend-id="orders"/>' })
    assert.equal("orders", fw[1].backend_id)
    assert.is_nil(fw[1].base_url)
  end)

  it("keeps APIM's quirk: an inherited backend-id is not replaced by a base-url", function()
    h.load(h.spec({
      global = h.doc { inbound = '<set-backend-service backend-id="orders"/>' },
      api = h.doc { inbound = '<base/><set-backend-service base-url="https://ignored.example"/>' },
    }))
    local _, fw = h.run(h.req())
    assert.equal("orders", fw[1].backend_id)
    h.load(h.spec({
      global = h.doc { inbound = '<set-backend-service backend-id="orders"/>' },
      api = h.doc { inbound = '<base/><set-backend-service backend-id="orders-dr"/>' },
    }))
    _, fw = h.run(h.req())
    assert.equal("orders-dr", fw[1].backend_id)
  end)

  it("lets a base-url replace a backend-id set in the same scope", function()
    local _, fw = h.run_api(h.doc { inbound = '<set-backend-service backend-id="orders"/><set-backend-service base-url="http://x.example"/>' })
    assert.equal("http://x.example", fw[1].base_url)
  end)

  it("reports Service Fabric, unknown backends and bad URLs at load", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = '<set-backend-service backend-id="orders" sf-partition-key="1"/>' } }))
    assert.matches("Service Fabric is not supported", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<set-backend-service backend-id="order"/>' } }))
    assert.matches("backend 'order' is not defined %(did you mean 'orders'%?%)", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<set-backend-service base-url="ftp://x"/>' } }))
    assert.matches("is not an http or https URL", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<set-backend-service/>' } }))
    assert.matches("base%-url or backend%-id is required", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { inbound = '<set-backend-service base-url="http://a" backend-id="orders"/>' } }))
    assert.matches("not both", errs[1])
  end)

  it("takes expressions, checked when they run", function()
    local doc = h.doc { inbound = [[<choose>
      <when condition="@(context.Request.Headers.GetValueOrDefault("X-Region", "") == "dr")">
        <set-backend-service backend-id="@("orders-" + "dr")"/>
      </when>
      <otherwise><set-backend-service base-url="@("http://" + context.Request.Headers.GetValueOrDefault("X-Host", "bad host"))"/></otherwise>
    </choose>]] }
    local _, fw = h.run_api(doc, { headers = { { "Host", "gw" }, { "X-Region", "dr" } } })
    assert.equal("orders-dr", fw[1].backend_id)
    _, fw = h.run_api(doc, { headers = { { "Host", "gw" }, { "X-Host", "10.0.0.1:81" } } })
    assert.equal("http://10.0.0.1:81", fw[1].base_url)
    local resp
    resp, fw = h.run_api(doc, { headers = { { "Host", "gw" }, { "X-Host", "" } } })
    assert.equal(0, #fw)
    assert.equal(500, resp.status)
    assert.matches("is not an http or https URL", resp.error.message)
  end)
end)
