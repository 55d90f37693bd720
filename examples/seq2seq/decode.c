/* Greedy decoding with the encoder and decoder units of the sequence-to-
 * sequence example: Keras's lstm_seq2seq.py decode_sequence(), in C.
 *
 *   decode WEIGHTS ENCODER_INPUT.npy DECODER_TARGET.npy [--show N] [--dump DIR]
 *
 * WEIGHTS is the training model's weight file (train.lua's `fit --out`): the
 * encoder and decoder units name their layers as the training model does
 * (encoder_lstm, decoder_lstm, decoder_dense), so each loads its own
 * tensors from it. ENCODER_INPUT.npy (n, 7, 12) and DECODER_TARGET.npy
 * (n, 6, 13) are make_data.lua's one-hot held-out strings. Prints the exact
 * match of whole answers and the per-character accuracy, and N examples.
 *
 * --dump DIR writes what the test (tests/cli/seq2seq.lua) compares with the
 * training model: DIR/encoder_states.npy (n, 2, latent_dim), h then c;
 * DIR/decoder_input.npy (n, 6, 13), the one-hot characters fed to the
 * decoder ("\t", then each step's argmax); DIR/decoder_output.npy
 * (n, 6, 13), each step's softmax. With --dump every sample is decoded for
 * all 6 steps (steps after the end mark change no decoded string). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "encoder.h"

/* make_data.lua's vocabularies, sorted as Keras's example sorts its
 * character sets: a character's index is its one-hot position. */
static const char input_characters[] = " +0123456789";
static const char target_characters[] = "\t\n 0123456789";
#define NUM_ENCODER_TOKENS ((int)sizeof input_characters - 1)
#define NUM_DECODER_TOKENS ((int)sizeof target_characters - 1)
#define LATENT_DIM ENCODER_OUT_ENCODER_LSTM_SIZE
#define MAX_ENCODER_SEQ_LENGTH (ENCODER_INPUT_SIZE / NUM_ENCODER_TOKENS)
#define START_TOKEN 0 /* "\t" */
#define END_TOKEN 1   /* "\n" */

/* The units and the vocabularies agree (checked when compiled). */
typedef char check_encoder_tokens[ENCODER_INPUT_SIZE % NUM_ENCODER_TOKENS == 0 ? 1 : -1];
typedef char check_decoder_tokens[DECODER_IN_DECODER_INPUTS_SIZE == NUM_DECODER_TOKENS ? 1 : -1];
typedef char check_latent[DECODER_IN_DECODER_STATE_INPUT_H_SIZE == LATENT_DIM ? 1 : -1];

static encoder_params encoder_p;
static encoder_scratch encoder_s;
static decoder_params decoder_p;
static decoder_scratch decoder_s;

static int argmax(const float *v, int n) {
  int best = 0;
  for (int k = 1; k < n; k++)
    if (v[k] > v[best])
      best = k;
  return best;
}

/* The one-hot row's character index (-1 when the row is not one-hot). */
static int one_hot_index(const float *row, int n) {
  int index = -1;
  for (int k = 0; k < n; k++) {
    if (row[k] == 1.0f && index < 0)
      index = k;
    else if (row[k] != 0.0f)
      return -1;
  }
  return index;
}

static int save(const char *dir, const char *name, int rank, const size_t *shape,
                const float *data) {
  char path[4096], err[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (rnnc_npy_save(path, RNNC_F32, rank, shape, data, err, sizeof err) != 0) {
    fprintf(stderr, "decode: %s\n", err);
    return -1;
  }
  return 0;
}

static int usage(const char *prog) {
  fprintf(stderr,
          "usage: %s WEIGHTS ENCODER_INPUT.npy DECODER_TARGET.npy [--show N] [--dump DIR]\n", prog);
  return 2;
}

int main(int argc, char **argv) {
  char err[512];
  int show = 10;
  const char *dump = NULL;
  if (argc < 4)
    return usage(argv[0]);
  for (int a = 4; a < argc; a += 2) {
    if (a + 1 >= argc)
      return usage(argv[0]);
    if (strcmp(argv[a], "--show") == 0) {
      show = atoi(argv[a + 1]);
      if (show < 0)
        return usage(argv[0]);
    } else if (strcmp(argv[a], "--dump") == 0)
      dump = argv[a + 1];
    else
      return usage(argv[0]);
  }
  /* Restore the trained weights: each unit reads its layers' tensors. */
  if (rnnc_weights_load(argv[1], &encoder_model, &encoder_p, err, sizeof err) != 0 ||
      rnnc_weights_load(argv[1], &decoder_model, &decoder_p, err, sizeof err) != 0) {
    fprintf(stderr, "decode: %s\n", err);
    return 1;
  }
  rnnc_array_f32 enc, target;
  if (rnnc_npy_load_f32(argv[2], &enc, err, sizeof err) != 0) {
    fprintf(stderr, "decode: %s\n", err);
    return 1;
  }
  if (rnnc_npy_load_f32(argv[3], &target, err, sizeof err) != 0) {
    fprintf(stderr, "decode: %s\n", err);
    return 1;
  }
  if (enc.rank != 3 || enc.shape[0] == 0 || enc.shape[1] != MAX_ENCODER_SEQ_LENGTH ||
      enc.shape[2] != NUM_ENCODER_TOKENS) {
    fprintf(stderr, "decode: %s: expected shape (n, %d, %d), n >= 1\n", argv[2],
            MAX_ENCODER_SEQ_LENGTH, NUM_ENCODER_TOKENS);
    return 1;
  }
  if (target.rank != 3 || target.shape[0] != enc.shape[0] || target.shape[1] < 1 ||
      target.shape[1] > 32 || target.shape[2] != NUM_DECODER_TOKENS) {
    fprintf(stderr, "decode: %s: expected shape (%zu, steps, %d)\n", argv[3], enc.shape[0],
            NUM_DECODER_TOKENS);
    return 1;
  }
  const size_t n = enc.shape[0];
  const int max_decoder_seq_length = (int)target.shape[1];
  float *states = NULL, *dec_in = NULL, *dec_out = NULL;
  if (dump) {
    states = calloc(n * 2 * LATENT_DIM, sizeof *states);
    dec_in = calloc(n * (size_t)max_decoder_seq_length * NUM_DECODER_TOKENS, sizeof *dec_in);
    dec_out = calloc(n * (size_t)max_decoder_seq_length * NUM_DECODER_TOKENS, sizeof *dec_out);
    if (!states || !dec_in || !dec_out) {
      fprintf(stderr, "decode: out of memory\n");
      return 1;
    }
  }

  size_t exact = 0, chars_right = 0, chars_total = 0;
  for (size_t i = 0; i < n; i++) {
    const float *input_seq = enc.data + i * ENCODER_INPUT_SIZE;
    /* the answer: the target's characters up to its end mark */
    char answer[64], decoded_sentence[64], input_text[64];
    int answer_len = 0, input_len = 0;
    for (int t = 0; t < max_decoder_seq_length; t++) {
      int k = one_hot_index(target.data + (i * max_decoder_seq_length + t) * NUM_DECODER_TOKENS,
                            NUM_DECODER_TOKENS);
      if (k < 0) {
        fprintf(stderr, "decode: %s: sample %zu, step %d is not one-hot\n", argv[3], i, t);
        return 1;
      }
      answer[answer_len++] = target_characters[k];
      if (k == END_TOKEN)
        break;
    }
    answer[answer_len] = '\0';
    for (int t = 0; t < MAX_ENCODER_SEQ_LENGTH; t++) {
      int k = one_hot_index(input_seq + t * NUM_ENCODER_TOKENS, NUM_ENCODER_TOKENS);
      if (k < 0) {
        fprintf(stderr, "decode: %s: sample %zu, step %d is not one-hot\n", argv[2], i, t);
        return 1;
      }
      if (k != 0) /* the padding " " */
        input_text[input_len++] = input_characters[k];
    }
    input_text[input_len] = '\0';

    /* Encode the input as state vectors. */
    float states_value[ENCODER_OUTPUT_SIZE];
    encoder_forward(&encoder_p, &encoder_s, input_seq, states_value, 1);
    /* The decoder's input: the target sequence of length 1, then h and c. */
    float x[DECODER_INPUT_SIZE], y[DECODER_OUTPUT_SIZE];
    float *target_seq = x + DECODER_IN_DECODER_INPUTS_OFFSET;
    memset(target_seq, 0, NUM_DECODER_TOKENS * sizeof *target_seq);
    /* Populate the first character of target sequence with the start character. */
    target_seq[START_TOKEN] = 1.0f;
    memcpy(x + DECODER_IN_DECODER_STATE_INPUT_H_OFFSET,
           states_value + ENCODER_OUT_ENCODER_LSTM_OFFSET, LATENT_DIM * sizeof *x);
    memcpy(x + DECODER_IN_DECODER_STATE_INPUT_C_OFFSET,
           states_value + ENCODER_OUT_ENCODER_LSTM_1_OFFSET, LATENT_DIM * sizeof *x);
    if (dump) {
      memcpy(states + i * 2 * LATENT_DIM, states_value + ENCODER_OUT_ENCODER_LSTM_OFFSET,
             LATENT_DIM * sizeof *states);
      memcpy(states + (i * 2 + 1) * LATENT_DIM, states_value + ENCODER_OUT_ENCODER_LSTM_1_OFFSET,
             LATENT_DIM * sizeof *states);
    }

    int decoded_len = 0, stop_condition = 0;
    for (int step = 0; !stop_condition || (dump && step < max_decoder_seq_length); step++) {
      decoder_forward(&decoder_p, &decoder_s, x, y, 1);
      const float *output_tokens = y + DECODER_OUT_DECODER_DENSE_OFFSET;
      /* Sample a token */
      int sampled_token_index = argmax(output_tokens, NUM_DECODER_TOKENS);
      if (dump && step < max_decoder_seq_length) {
        size_t row = (i * max_decoder_seq_length + step) * NUM_DECODER_TOKENS;
        memcpy(dec_in + row, target_seq, NUM_DECODER_TOKENS * sizeof *dec_in);
        memcpy(dec_out + row, output_tokens, NUM_DECODER_TOKENS * sizeof *dec_out);
      }
      if (!stop_condition) {
        decoded_sentence[decoded_len++] = target_characters[sampled_token_index];
        /* Exit condition: either hit max length or find stop character. */
        if (sampled_token_index == END_TOKEN || decoded_len > max_decoder_seq_length)
          stop_condition = 1;
      }
      /* Update the target sequence (of length 1). */
      memset(target_seq, 0, NUM_DECODER_TOKENS * sizeof *target_seq);
      target_seq[sampled_token_index] = 1.0f;
      /* Update states */
      memcpy(x + DECODER_IN_DECODER_STATE_INPUT_H_OFFSET, y + DECODER_OUT_DECODER_LSTM_OFFSET,
             LATENT_DIM * sizeof *x);
      memcpy(x + DECODER_IN_DECODER_STATE_INPUT_C_OFFSET, y + DECODER_OUT_DECODER_LSTM_1_OFFSET,
             LATENT_DIM * sizeof *x);
    }
    decoded_sentence[decoded_len] = '\0';

    /* Whole answers, and characters at their positions (the end mark counted). */
    int match = strcmp(decoded_sentence, answer) == 0;
    exact += match;
    for (int k = 0; k < answer_len; k++)
      chars_right += k < decoded_len && decoded_sentence[k] == answer[k];
    chars_total += answer_len;
    if ((size_t)show > i) {
      /* printed without the end mark */
      if (decoded_sentence[decoded_len - 1] == '\n')
        decoded_sentence[decoded_len - 1] = '\0';
      if (answer[answer_len - 1] == '\n')
        answer[answer_len - 1] = '\0';
      if (match)
        printf("%-8s -> %s\n", input_text, decoded_sentence);
      else
        printf("%-8s -> %-5s wrong: expected %s\n", input_text, decoded_sentence, answer);
    }
  }
  printf("held-out strings: %zu\n", n);
  printf("exact match: %zu/%zu = %.2f%%\n", exact, n, n ? 100.0 * (double)exact / (double)n : 0.0);
  printf("per character: %zu/%zu = %.2f%%\n", chars_right, chars_total,
         chars_total ? 100.0 * (double)chars_right / (double)chars_total : 0.0);

  int rc = 0;
  if (dump) {
    size_t s_shape[3] = {n, 2, LATENT_DIM};
    size_t d_shape[3] = {n, (size_t)max_decoder_seq_length, NUM_DECODER_TOKENS};
    if (save(dump, "encoder_states.npy", 3, s_shape, states) != 0 ||
        save(dump, "decoder_input.npy", 3, d_shape, dec_in) != 0 ||
        save(dump, "decoder_output.npy", 3, d_shape, dec_out) != 0)
      rc = 1;
    free(states);
    free(dec_in);
    free(dec_out);
  }
  rnnc_array_f32_free(&enc);
  rnnc_array_f32_free(&target);
  return rc;
}
