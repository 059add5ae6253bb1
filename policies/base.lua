-- base.lua - <base/>: inserts the parent scope's section where it stands.
--
-- The compiler handles <base/> itself when it is a direct child of a section
-- (compiler.lua, section_items); reaching this module means it was nested
-- inside another policy, which APIM does not allow either.

local M = {}

function M.compile(node, c)
  return c:error(node, "<base/> belongs directly inside a section (<inbound>, <backend>, "
    .. "<outbound>, <on-error>), not inside another policy")
end

return M
