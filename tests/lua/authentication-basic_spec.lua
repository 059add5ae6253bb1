-- busted spec of policies/authentication-basic.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

describe("authentication-basic", function()
  it("sends Authorization: Basic to the backend, replacing the client's", function()
    local _, fw = h.run_api(h.doc { inbound = '<authentication-basic username="Aladdin" password="open sesame"/>' },
      { headers = { { "Authorization", "Bearer client" }, { "Accept", "*/*" } } })
    assert.same({ "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==" }, h.headers_named(fw[1].headers, "Authorization"))
  end)

  it("takes named values and expressions", function()
    local _, fw = h.run_api(h.doc { inbound = '<authentication-basic username="{{user}}" '
      .. 'password="@(context.Request.Headers.GetValueOrDefault(&quot;X-Pw&quot;, &quot;&quot;))"/>' },
      { headers = { { "X-Pw", "p:w" } } }, nil, { named_values = { user = { value = "svc", secret = true } } })
    assert.equal("Basic c3ZjOnA6dw==", h.header(fw[1].headers, "Authorization"))
  end)

  it("wants both attributes, in inbound", function()
    local errs = h.load_errors(h.spec({ api = h.doc { inbound = '<authentication-basic username="u"/>' } }))
    assert.matches("<authentication%-basic>: attribute 'password' is required", errs[1])
    errs = h.load_errors(h.spec({ api = h.doc { outbound = '<authentication-basic username="u" password="p"/>' } }))
    assert.matches("is not allowed in <outbound> %(allowed in inbound%)", errs[1])
  end)
end)
