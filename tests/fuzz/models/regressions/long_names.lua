-- Names long enough to push the reference spec and the summary past C99's
-- 4095-character string literal: once C that gcc -pedantic refused; now
-- refused by the generator, naming the limit.
local name = string.rep("n", 60)
local m = Sequential {}
for i = 1, 40 do
  m:add(Dense { 2, input_shape = { 2 }, name = name .. i })
end
return m
