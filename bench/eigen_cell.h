/* The streaming benchmark's strong peer (bench/eigen_cell.cpp): an LSTM or
 * GRU cell (reset_after=True) written the way RTNeural's Eigen backend
 * writes it, with H fixed at compile time (-DHIDDEN=H -DCELL_LSTM|CELL_GRU),
 * float32, then Dense(1). Weights in Keras's layouts. */
#ifndef RNNC_BENCH_EIGEN_CELL_H
#define RNNC_BENCH_EIGEN_CELL_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eigen_cell eigen_cell;

/* kernel (1, G*H), recurrent (H, G*H), bias (G*H) for LSTM or (2, G*H) for
 * GRU, dense_kernel (H, 1). Returns NULL when out of memory. */
eigen_cell *eigen_cell_new(const float *kernel, const float *recurrent, const float *bias,
                           const float *dense_kernel, float dense_bias);
void eigen_cell_reset(eigen_cell *c);
/* One timestep: updates the state, returns Dense(1) of the new h. */
float eigen_cell_step(eigen_cell *c, float x);
void eigen_cell_free(eigen_cell *c);

#ifdef __cplusplus
}
#endif

#endif
