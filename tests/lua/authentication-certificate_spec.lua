-- busted spec of policies/authentication-certificate.lua

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"

local CERTS = { certificates = {
  { id = "one", thumbprint = "6BBA331B5AC10796AFD7D5069B21CE2C9D0E1531" },
  { id = "two", thumbprint = "0000000000000000000000000000000000000002" },
} }

describe("authentication-certificate", function()
  it("names the certificate entity for the forward, by id", function()
    local _, fw = h.run_api(h.doc { inbound = '<authentication-certificate certificate-id="two"/>',
      backend = "<forward-request/>" }, nil, nil, CERTS)
    assert.equal(1, fw[1].certificate) -- C counts from 0
  end)

  it("finds it by thumbprint, ignoring case", function()
    local _, fw = h.run_api(h.doc { inbound =
      '<authentication-certificate thumbprint="6bba331b5ac10796afd7d5069b21ce2c9d0e1531"/>',
      backend = "<forward-request/>" }, nil, nil, CERTS)
    assert.equal(0, fw[1].certificate)
  end)

  it("forwards without one when the policy is absent", function()
    local _, fw = h.run_api(h.doc { backend = "<forward-request/>" }, nil, nil, CERTS)
    assert.is_nil(fw[1].certificate)
  end)

  it("refuses unknown certificates, inline PFX bodies and expressions at load", function()
    local function errors(attrs)
      return table.concat(h.load_errors(h.spec({ api = h.doc { inbound = "<authentication-certificate "
        .. attrs .. "/>" } }, CERTS)), "\n")
    end
    assert.matches("no certificate with certificate%-id 'three'", errors('certificate-id="three"'))
    assert.matches("body and password are not supported", errors('body="MIIF" password="x"'))
    assert.matches("must be a constant", errors('certificate-id="@(context.Variables[&quot;c&quot;])"'))
    assert.matches("give certificate%-id or thumbprint", errors(""))
  end)
end)
