-- The passes from a built model to the unit record the C writer reads, in
-- the one direction data flows:
--
--   built model --lower--> IR ("built": the forward program as the layers
--   emitted it) --simplify--> (the forward, simplified: what it no longer
--   computes needs no gradient) --autodiff--> ("autodiff": the backward
--   programs) --simplify--> ("simplify") --layout--> ("layout")
--
-- Each pass takes the unit and returns a new one; none reads back what a
-- later one produces. `stop` names the pass to stop after (for
-- `rnnc generate --dump-ir PASS`).
local lower = require("lower")
local simplify = require("simplify")
local autodiff = require("autodiff")
local layout = require("layout")

local pipeline = {}

pipeline.PASSES = { "built", "autodiff", "simplify", "layout" }

-- opts: batch, timesteps. Returns the unit after each pass, by pass name,
-- up to `stop` (default: all).
function pipeline.stages(model, opts, stop)
  local st = {}
  st.built = lower.build(model, opts)
  if stop == "built" then return st end
  st.autodiff = autodiff.pass(simplify.pass(st.built))
  if stop == "autodiff" then return st end
  st.simplify = simplify.pass(st.autodiff)
  if stop == "simplify" then return st end
  st.layout = layout.pass(st.simplify)
  return st
end

-- The unit after `stop` (default: after every pass).
function pipeline.run(model, opts, stop)
  return pipeline.stages(model, opts, stop)[stop or "layout"]
end

return pipeline
