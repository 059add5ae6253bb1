-- authentication-certificate.lua - <authentication-certificate certificate-id="client"/>
-- or thumbprint="...": the client certificate presented to an https backend.
--
-- At the edge there is no Key Vault: certificates are declared in the
-- configuration (certificates.<id>: {certificate, key}) and found by id or by
-- SHA-1 thumbprint, once, at load. C makes the TLS connection with it; pooled
-- connections made with another certificate are never reused for it.
-- body= and password= (a PFX inline) are refused at load with the way out.

local upper = string.upper
local ipairs = ipairs

local M = {}

M.sections = { "inbound" }

local function find(list, key, value)
  for i, cert in ipairs(list) do
    if cert[key] == value then return i - 1 end -- C counts from 0
  end
end

function M.compile(node, c)
  c:check_attrs(node, { "certificate-id", "thumbprint", "body", "password" })
  if c:attr_entry(node, "body") or c:attr_entry(node, "password") then
    return c:error(node, "<authentication-certificate>: body and password are not supported (declare "
      .. "the certificate under certificates: in the configuration and use certificate-id)")
  end
  local by_id, by_thumb = c:attr_entry(node, "certificate-id"), c:attr_entry(node, "thumbprint")
  if (by_id and by_thumb) or not (by_id or by_thumb) then
    return c:error(node, "<authentication-certificate>: give certificate-id or thumbprint")
  end
  local name = by_id and "certificate-id" or "thumbprint"
  local get, is_const, value = c:attr(node, name)
  if not get then return nil end
  if not is_const then
    return c:error(by_id or by_thumb, "<authentication-certificate>: %s must be a constant", name)
  end
  local list = c.spec.certificates or {}
  local index = by_id and find(list, "id", value) or find(list, "thumbprint", upper(value))
  if not index then
    return c:error(by_id or by_thumb, "<authentication-certificate>: no certificate with %s '%s' (declare "
      .. "it under certificates: in the configuration)", name, value)
  end
  return function(ctx) ctx.request.certificate = index end
end

return M
