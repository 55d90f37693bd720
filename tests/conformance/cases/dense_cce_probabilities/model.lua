-- conformance case dense_cce_probabilities (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 3, input_shape = { 4 }, activation = "sigmoid" },
}
model:compile { optimizer = Adagrad { learning_rate = 0.1 }, loss = CategoricalCrossentropy {  } }
return model
