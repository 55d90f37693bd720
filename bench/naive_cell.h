/* The naive streaming cell of bench/naive_cell.c: what a competent C
 * programmer writes for one fixed size, compiled with -DHIDDEN=H and
 * -DCELL_LSTM or -DCELL_GRU (reset_after=True). Weights in Keras's layouts. */
#ifndef RNNC_BENCH_NAIVE_CELL_H
#define RNNC_BENCH_NAIVE_CELL_H

#if defined(CELL_LSTM)
#define NAIVE_GATES 4 /* i f c o */
#elif defined(CELL_GRU)
#define NAIVE_GATES 3 /* z r h */
#else
#error "define CELL_LSTM or CELL_GRU"
#endif

typedef struct {
  float kernel[NAIVE_GATES * HIDDEN];            /* (1, G*H) */
  float recurrent[HIDDEN][NAIVE_GATES * HIDDEN]; /* (H, G*H) */
#if defined(CELL_LSTM)
  float bias[NAIVE_GATES * HIDDEN];
#else
  float bias[2][NAIVE_GATES * HIDDEN]; /* input bias, recurrent bias */
#endif
  float dense_kernel[HIDDEN]; /* (H, 1) */
  float dense_bias;
} naive_weights;

typedef struct {
  float h[HIDDEN];
#if defined(CELL_LSTM)
  float c[HIDDEN];
#endif
} naive_state;

/* One timestep: updates the state, returns Dense(1) of the new h. */
float naive_step(const naive_weights *w, naive_state *s, float x);

#endif
