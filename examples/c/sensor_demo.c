/* Trains the sensor model (sensor.lua) with rnnc's C API, saves its weights,
 * loads them back, and runs streaming inference: one reading in, the next
 * predicted, the LSTM's state kept between calls.
 *
 * The file is both C99 and C++ (the Makefile and CMakeLists.txt build it as
 * each): the unit's header and rnnc.h are extern "C".
 *
 *   sensor_demo [WEIGHTS.safetensors]      exit status 0 when all went well */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sensor.h"

enum { N = 64, T = 16 };

/* Noisy sines of different speeds and phases: x_t the reading, y_t = x_{t+1}. */
static void make_data(float *x, float *y) {
  rnnc_rng rng;
  rnnc_rng_seed(&rng, 7);
  for (int s = 0; s < N; ++s) {
    double speed = 0.3 + 0.4 * rnnc_rng_uniform(&rng), phase = 6.283 * rnnc_rng_uniform(&rng);
    for (int t = 0; t <= T; ++t) {
      double v = sin(speed * t + phase) + 0.01 * rnnc_rng_normal(&rng);
      if (t < T)
        x[s * T + t] = (float)v;
      if (t > 0)
        y[s * T + t - 1] = (float)v;
    }
  }
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "sensor.safetensors";
  static sensor_params p, q;
  static sensor_scratch scratch;
  static float x[N * T], y[N * T], forward_y[SENSOR_BATCH * SENSOR_OUTPUT_SIZE];
  char err[512];
  make_data(x, y);

  /* 1. Initialise: Keras's default initializers, seeded. */
  sensor_init(&p, 42);

  /* 2. Train with the loss, optimizer, metrics and fit{} defaults of
   * sensor.lua (options NULL: the model's own), then evaluate. */
  rnnc_fit_options options = rnnc_fit_defaults();
  options.verbose = 0;
  rnnc_logs before, after;
  if (rnnc_evaluate(&sensor_model, &p, x, y, N, &options, &before, err, sizeof err) != 0 ||
      rnnc_fit(&sensor_model, &p, x, y, N, NULL, NULL, NULL, err, sizeof err) != 0 ||
      rnnc_evaluate(&sensor_model, &p, x, y, N, &options, &after, err, sizeof err) != 0) {
    fprintf(stderr, "training failed: %s\n", err);
    return 1;
  }
  printf("loss %.4f before training, %.4f after (%s %.4f)\n", before.values[0], after.values[0],
         after.names[1], after.values[1]);

  /* 3. Save the weights, load them into another parameter struct. */
  if (rnnc_weights_save(path, &sensor_model, &p, err, sizeof err) != 0 ||
      rnnc_weights_load(path, &sensor_model, &q, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  printf("saved and reloaded %s (%d parameters)\n", path, SENSOR_N_PARAMS);

  /* 4. Streaming inference on the first sequence, one reading per call; each
   * prediction equals the whole-sequence forward's at that step. */
  sensor_forward(&q, &scratch, x, forward_y, 1);
  sensor_stream stream;
  sensor_stream_reset(&stream);
  double worst = 0;
  for (int t = 0; t < T; ++t) {
    float prediction;
    sensor_stream_step(&q, &stream, &x[t], &prediction);
    worst = fmax(worst, fabs((double)prediction - (double)forward_y[t]));
    if (t >= T - 3)
      printf("step %2d: reading %+.3f, next predicted %+.3f, actual %+.3f\n", t, x[t], prediction,
             y[t]);
  }
  printf("streaming = forward to %.1e\n", worst);
  return after.values[0] < 0.5 * before.values[0] && worst < 1e-5 ? 0 : 1;
}
