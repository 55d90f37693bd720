-- Streaming benchmark: a WaveNet-style stack of causal Conv1D(16, kernel 2,
-- relu) with dilation rates 1, 2, 4, 8 (a receptive field of 16 steps) over
-- one input feature, then GRU(32) (reset_after = true) -> Dense(1) at every
-- step. The 256 steps are the length the harness verifies the stream over;
-- NAME_stream_step does not depend on it.
return Sequential {
  Conv1D { 16, 2, padding = "causal", dilation_rate = 1, activation = "relu", input_shape = { 256, 1 } },
  Conv1D { 16, 2, padding = "causal", dilation_rate = 2, activation = "relu" },
  Conv1D { 16, 2, padding = "causal", dilation_rate = 4, activation = "relu" },
  Conv1D { 16, 2, padding = "causal", dilation_rate = 8, activation = "relu" },
  GRU { 32, return_sequences = true },
  Dense { 1 },
}
