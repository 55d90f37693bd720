-- conformance case loss_cosine_similarity (written by tests/conformance/golden.py)
local model = Sequential {
  LSTM { 3, input_shape = { 3, 2 } },
  Dense { 3 },
}
model:compile { optimizer = Adam { learning_rate = 0.02 }, loss = CosineSimilarity {  } }
return model
