-- A Dense wrapped by two TimeDistributed layers: once generated C that read
-- the wrong weights; now refused naming the wrapper.
local dense = Dense { 3 }
return Sequential {
  TimeDistributed { dense, input_shape = { 4, 2 } },
  TimeDistributed { dense },
}
