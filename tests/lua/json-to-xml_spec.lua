-- busted spec of policies/json-to-xml.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

local function json_backend(body, ctype)
  return { status = 200, reason = "OK", headers = { { "Content-Type", ctype or "application/json" } }, body = body }
end

local function convert(attrs, body, req_t, ctype)
  return h.run_api(h.doc { outbound = "<json-to-xml " .. attrs .. "/>" }, req_t, json_backend(body, ctype))
end

local ALWAYS = 'apply="always" consider-accept-header="false"'

describe("json-to-xml", function()
  it("keeps property order; one property is the root, arrays repeat, null is empty", function()
    local resp = convert(ALWAYS, '{"order":{"z":1,"a":[1,2.5,{"x":null}],"t":"<&\\">","ok":true}}')
    assert.equal('<order><z>1</z><a>1</a><a>2.5</a><a><x /></a><t>&lt;&amp;&quot;&gt;</t><ok>true</ok></order>',
      resp.body)
    assert.equal("application/xml", h.header(resp.headers, "Content-Type"))
  end)

  it("wraps several properties, arrays and scalars in <Document>, encoding names", function()
    assert.equal('<Document><a>1</a><my_x0020_key>2</my_x0020_key><_x0031_st>3</_x0031_st></Document>',
      convert(ALWAYS, '{"a":1,"my key":2,"1st":3}').body)
    assert.equal('<Document><Item>1</Item><Item>two</Item></Document>', convert(ALWAYS, '[1,"two"]').body)
  end)

  it("makes namespace declarations and attribute blocks (APIM's SOAP example)", function()
    local resp = convert(ALWAYS .. ' parse-date="false" namespace-separator=":" namespace-prefix="xmlns" '
      .. 'attribute-block-name="#attrs"', [[{"soapenv:Envelope":{"xmlns:soapenv":"http://schemas.xmlsoap.org/soap/envelope/",
        "xmlns:v1":"http://localdomain.com/core/v1","soapenv:Header":{},
        "soapenv:Body":{"v1:QueryList":{"#attrs":{"queryName":"test"},"v1:QueryItem":{"name":"dummy text"}}}}}]])
    assert.equal('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
      .. 'xmlns:v1="http://localdomain.com/core/v1"><soapenv:Header /><soapenv:Body><v1:QueryList queryName="test">'
      .. '<v1:QueryItem><name>dummy text</name></v1:QueryItem></v1:QueryList></soapenv:Body></soapenv:Envelope>',
      resp.body)
    resp = convert(ALWAYS .. ' namespace-separator="_"', '{"s_Envelope":{"s_Body":"x"}}')
    assert.equal("<s:Envelope><s:Body>x</s:Body></s:Envelope>", resp.body)
  end)

  it("apply and consider-accept-header choose when to convert", function()
    assert.equal('{"a":1}', convert('apply="content-type-json" consider-accept-header="false"', '{"a":1}', nil, "text/plain").body)
    assert.equal('<a>1</a>', convert('apply="content-type-json" consider-accept-header="false"', '{"a":1}', nil,
      "application/problem+json").body)
    assert.equal('{"a":1}', convert('apply="always"', '{"a":1}', { headers = { { "Accept", "application/json" } } }).body)
    assert.equal('<a>1</a>', convert('apply="always"', '{"a":1}', { headers = { { "Accept", "text/xml" } } }).body)
    assert.equal('<a>1</a>', convert('apply="always"', '{"a":1}').body)
  end)

  it("leaves a body that is not JSON alone", function()
    local resp = convert(ALWAYS, "{nope")
    assert.equal("{nope", resp.body)
    assert.equal("application/json", h.header(resp.headers, "Content-Type"))
  end)

  it("converts an error answer in on-error", function()
    local resp = h.run_api(h.doc { inbound = '<return-response><set-status code="418"/></return-response>',
      ["on-error"] = "<json-to-xml " .. ALWAYS .. "/>",
      backend = '<forward-request/>' }, nil, { error = { Reason = "Timeout", Message = "slow" } })
    assert.equal(418, resp.status)
    resp = h.run_api(h.doc { ["on-error"] = "<json-to-xml " .. ALWAYS .. "/>" }, nil,
      { error = { Reason = "Timeout", Message = "slow" } })
    assert.equal(500, resp.status)
    assert.equal("<Document><statusCode>500</statusCode><message>Backend did not respond in time</message></Document>",
      resp.body)
  end)

  it("checks its attributes at load", function()
    local errs = h.load_errors(h.spec({ api = '<policies><outbound>\n<json-to-xml apply="json" parse-date="@(true)"/>\n</outbound></policies>' }))
    assert.same({
      "api.xml:2:14: <json-to-xml apply>: 'json' is not one of always, content-type-json",
      "api.xml:2:27: <json-to-xml parse-date>: policy expressions are not allowed here",
    }, errs)
  end)
end)
