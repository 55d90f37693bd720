-- conformance case regularizers_constraints_lstm (written by tests/conformance/golden.py)
local model = Sequential {
  LSTM { 3, input_shape = { 3, 2 }, kernel_regularizer = L1L2 { l1 = 0.01, l2 = 0.02 }, recurrent_regularizer = L2 { l2 = 0.05 }, kernel_constraint = MaxNorm { max_value = 0.5 }, bias_constraint = NonNeg {  } },
  Dense { 2, kernel_regularizer = L1 { l1 = 0.03 }, bias_regularizer = L2 { l2 = 0.1 }, kernel_constraint = MinMaxNorm { min_value = 0.2, max_value = 0.6, rate = 0.7, axis = { 0, 1 } }, bias_constraint = UnitNorm { axis = 0 } },
}
model:compile { optimizer = Adam { learning_rate = 0.02 }, loss = "mse" }
return model
