/* A deployed program: loads the weights sensor_demo saved and predicts, one
 * reading per call, with the state kept between calls. Its unit is compiled
 * with -DRNNC_INFERENCE_ONLY, so it links none of the runtime's training
 * code (initializers, losses, optimizers, the fit loop): only the weight
 * loader beside the unit's forward and streaming step.
 *
 *   sensor_stream WEIGHTS.safetensors READING...   prints the predictions */
#include <stdio.h>
#include <stdlib.h>

#include "sensor.h"

int main(int argc, char **argv) {
  static sensor_params p;
  char err[512];
  if (argc < 3) {
    fprintf(stderr, "usage: %s WEIGHTS.safetensors READING...\n", argv[0]);
    return 2;
  }
  if (rnnc_weights_load(argv[1], &sensor_model, &p, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  sensor_stream stream;
  sensor_stream_reset(&stream);
  for (int i = 2; i < argc; ++i) {
    float reading = strtof(argv[i], NULL), prediction;
    sensor_stream_step(&p, &stream, &reading, &prediction);
    printf("%+.4f -> %+.4f\n", reading, prediction);
  }
  return 0;
}
