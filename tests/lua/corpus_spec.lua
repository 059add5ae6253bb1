-- busted spec: the APIM policy snippets corpus (../shared/corpus) through engine.load.
-- Skipped when the folder is absent (CI uses a clean clone). Prints the numbers;
-- PORTICO_CORPUS_VERBOSE=1 lists every file with its errors.

package.path = "tests/lua/?.lua;" .. package.path
local corpus = require "corpus"

local dir = corpus.DEFAULT_DIR
local present = #corpus.files(dir) > 0

describe("APIM policy snippets corpus", function()
  if not present then
    pending("corpus folder absent: " .. dir)
    return
  end

  it("loads, or fails with a located, known reason", function()
    local r = corpus.measure(dir)
    print("\n" .. corpus.report(r, os.getenv("PORTICO_CORPUS_VERBOSE") == "1"))
    assert.equal(r.total, r.loaded + r.planned_only + r.failed)
    for _, f in ipairs(r.files) do
      for _, e in ipairs(f.errors) do
        -- every error names the file and a position (or is a Lua document error)
        assert.matches("^[^:]+:%d+:%d+: ", e)
      end
    end
  end)
end)
