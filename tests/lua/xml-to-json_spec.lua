-- busted spec of policies/xml-to-json.lua (expat through lua-expat)

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

local SOAP = [[<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns="http://example.com/" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <GetOrders><Customer>1234567</Customer><Item id="1">a &amp; b</Item><Item id="2"/><Empty/></GetOrders>
  </soap:Body>
</soap:Envelope>]]

local function xml_backend(body, ctype)
  return { status = 200, reason = "OK", headers = { { "Content-Type", ctype or "text/xml; charset=utf-8" },
    { "Content-Length", tostring(#(body or SOAP)) } }, body = body or SOAP }
end

local function convert(attrs, req_t, backend)
  return h.run_api(h.doc { outbound = "<xml-to-json " .. attrs .. "/>" }, req_t, backend or xml_backend())
end

describe("xml-to-json", function()
  it("direct: keeps the document's structure, Newtonsoft's way", function()
    local resp = convert('kind="direct" apply="always" consider-accept-header="false"')
    assert.equal('{"version":"1.0","encoding":"utf-8","soap$Envelope":{"@xmlns":"http://example.com/",'
      .. '"@xmlns$soap":"http://schemas.xmlsoap.org/soap/envelope/","soap$Body":{"GetOrders":{'
      .. '"Customer":"1234567","Item":[{"@id":"1","#text":"a & b"},{"@id":"2"}],"Empty":null}}}}', resp.body)
    assert.equal("application/json", h.header(resp.headers, "Content-Type"))
    assert.is_nil(h.header(resp.headers, "Content-Length"))
  end)

  it("javascript-friendly: no declaration, prefixes nor xmlns; plain attribute names", function()
    local resp = convert('kind="javascript-friendly" apply="always" consider-accept-header="false"')
    assert.equal('{"Envelope":{"Body":{"GetOrders":{"Customer":"1234567","Item":[{"id":"1","#text":"a & b"},'
      .. '{"id":"2"}],"Empty":null}}}}', resp.body)
  end)

  it("always-array-child-elements makes every child an array", function()
    local resp = convert('kind="javascript-friendly" apply="always" consider-accept-header="false" '
      .. 'always-array-child-elements="true"', nil, xml_backend("<a><b>1</b><c><d>x</d></c></a>"))
    assert.equal('{"a":{"b":["1"],"c":[{"d":["x"]}]}}', resp.body)
  end)

  it("content-type-xml converts only XML bodies", function()
    local attrs = 'kind="direct" apply="content-type-xml" consider-accept-header="false"'
    assert.equal('{"a":"1"}', convert(attrs, nil, xml_backend("<a>1</a>", "application/soap+xml")).body)
    local resp = convert(attrs, nil, xml_backend("<a>1</a>", "text/plain"))
    assert.equal("<a>1</a>", resp.body)
    assert.equal("text/plain", h.header(resp.headers, "Content-Type"))
  end)

  it("consider-accept-header converts only when the client accepts JSON", function()
    local attrs = 'kind="direct" apply="always"'
    local function accept(v) return { headers = { { "Accept", v } } } end
    assert.equal('{"a":"1"}', convert(attrs, accept("application/json"), xml_backend("<a>1</a>")).body)
    assert.equal('{"a":"1"}', convert(attrs, accept("text/html, */*;q=0.1"), xml_backend("<a>1</a>")).body)
    assert.equal("<a>1</a>", convert(attrs, accept("application/xml"), xml_backend("<a>1</a>")).body)
  end)

  it("leaves a body alone that is not XML, or has a DOCTYPE", function()
    local attrs = 'kind="direct" apply="always" consider-accept-header="false"'
    assert.equal("<a><b></a>", convert(attrs, nil, xml_backend("<a><b></a>")).body)
    local bomb = '<!DOCTYPE a [<!ENTITY x "xxxxxxxx">]><a>&x;</a>'
    assert.equal(bomb, convert(attrs, nil, xml_backend(bomb)).body)
  end)

  it("converts the request in inbound, and marks the right body as read", function()
    local doc = h.doc { inbound = '<xml-to-json kind="direct" apply="always" consider-accept-header="false"/>' }
    local _, fw = h.run_api(doc, { method = "POST", body = "<q><n>1</n><n>2</n></q>",
      headers = { { "Content-Type", "application/xml" }, { "Content-Length", "23" } } })
    assert.equal('{"q":{"n":["1","2"]}}', fw[1].body)
    assert.equal("application/json", h.header(fw[1].headers, "Content-Type"))
    assert.is_nil(h.header(fw[1].headers, "Content-Length"))
    local f = h.engine.flags("echo", "get-order", nil)
    assert.is_true(f.request_body)
    assert.is_false(f.response_body)
  end)

  it("checks its attributes at load", function()
    local errs = h.load_errors(h.spec({ api = '<policies><outbound>\n<xml-to-json apply="sometimes"/>\n</outbound></policies>' }))
    assert.same({
      "api.xml:2:1: <xml-to-json>: attribute 'kind' is required",
      "api.xml:2:14: <xml-to-json apply>: 'sometimes' is not one of always, content-type-xml",
    }, errs)
    errs = h.load_errors(h.spec({ api = h.doc { backend = '<xml-to-json kind="direct" apply="always"/>' } }))
    assert.matches("not allowed in <backend>", errs[1])
  end)
end)
