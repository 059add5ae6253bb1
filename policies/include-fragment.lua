-- include-fragment.lua - <include-fragment fragment-id="x"/>: the policies of
-- fragment x (a document whose root is <fragment>), compiled in place, as if
-- written here. A fragment including itself, directly or not, is an error.

local compiler = require "portico.compiler"

local M = {}

function M.compile(node, c)
  c:check_attrs(node, { "fragment-id" })
  local _, _, id = c:attr(node, "fragment-id", { required = true, expr = false })
  if not id then return nil end
  local k = c.k
  local frag = k:fragment(id)
  if not frag then
    if k.fragment_specs[id] then return nil end   -- read error already reported
    local hint = compiler.closest(id, k:fragment_ids())
    return c:error(node, "<include-fragment>: fragment '%s' is not defined%s", id,
      hint and (" (did you mean '" .. hint .. "'?)") or " (add it under fragments)")
  end
  if k.including[id] then
    return c:error(node, "<include-fragment>: fragment '%s' includes itself", id)
  end
  k.including[id] = true
  local run = c:sequence(frag.root, { file = frag.file, remap = frag.remap })
  k.including[id] = nil
  return run
end

return M
