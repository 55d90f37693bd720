-- conformance case dense_mae_clipvalue (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 3, input_shape = { 3 }, activation = "hard_sigmoid_keras2" },
  Dense { 2, activation = "sigmoid" },
}
model:compile { optimizer = Adagrad { learning_rate = 0.2, clipvalue = 0.01 }, loss = MeanAbsoluteError {  } }
return model
