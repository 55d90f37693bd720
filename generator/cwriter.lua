-- The C writer: the only part of the generator that knows C syntax. It reads
-- the unit record the passes produced (pipeline.lua) and writes the unit's
-- .h, .c and the driver's main. Its parts:
--   cwriter/syntax.lua  identifiers, literals, index expressions
--   cwriter/ops.lua     IR ops as statements and loops, batching
--   cwriter/gemm.lua    matrix products on the kernel of runtime/rnnc_kernels.h
--   cwriter/unit.lua    the unit's structs, functions, descriptor, templates
local syntax = require("cwriter.syntax")

return {
  unit = require("cwriter.unit").unit,
  ident = syntax.ident,
  real_literal = syntax.real_literal,
  c_string = syntax.c_string,
}
