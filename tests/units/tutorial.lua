-- The plain recurrence of the NumPy tutorials: timesteps 10, input_dim 4,
-- hidden 8, h_t = tanh(Wx x_t + Wh h_{t-1} + b), h_0 = 0.
return Sequential {
  SimpleRNN { 8, input_shape = { 10, 4 }, return_sequences = true },
}
