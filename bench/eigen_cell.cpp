// The streaming benchmark's strong peer: the cells of bench/naive_cell.c
// written the way RTNeural's Eigen backend (its LSTMLayerT / GRULayerT with
// compile-time sizes) writes them, so that rnnc is timed against the best
// a C++ programmer gets from a well-kept linear-algebra library:
//   LSTM  one fused product [W U b] . [x h 1] for all four gates (Keras's
//         order i, f, c, o), one vectorised sigmoid over i, f, o and one tanh
//         over the candidate, then c = f c + i g, h = o tanh(c);
//   GRU   (reset_after=True) [W b_in] . [x 1] and [U b_rec] . [h 1], one
//         sigmoid over z and r together, cand = tanh(xh + r hh),
//         h = z h + (1 - z) cand.
// Fixed-size Eigen matrices (column-major, 16-byte aligned, vectorised for
// the target's -m flags); sigmoid as 1 / (1 + exp(-x)) and tanh with Eigen's
// vectorised exp and tanh, as RTNeural's default maths provider does.
#include "eigen_cell.h"

// the weights live on the heap (the cell is allocated with new)
#define EIGEN_STACK_ALLOCATION_LIMIT 0
#include <Eigen/Dense>
#include <new>

#ifndef HIDDEN
#error "define HIDDEN"
#endif

namespace {

constexpr int H = HIDDEN;

template <typename V> inline void sigmoid(V &&v) {
  v = (1.0f + (-v.array()).exp()).inverse().matrix();
}

#if defined(CELL_LSTM)
struct Cell {
  Eigen::Matrix<float, 4 * H, H + 2> w; // [kernel^T | recurrent^T | bias]
  Eigen::Matrix<float, H + 2, 1> in;    // [x, h, 1]
  Eigen::Matrix<float, 4 * H, 1> z;
  Eigen::Matrix<float, H, 1> c;
  Eigen::Matrix<float, H, 1> dense;
  float dense_bias;

  void reset() {
    in.setZero();
    in(H + 1) = 1.0f;
    c.setZero();
  }
  float step(float x) {
    in(0) = x;
    z.noalias() = w * in;
    sigmoid(z.template segment<2 * H>(0)); // i, f
    sigmoid(z.template segment<H>(3 * H)); // o
    z.template segment<H>(2 * H) = z.template segment<H>(2 * H).array().tanh().matrix();
    c = z.template segment<H>(H).cwiseProduct(c) +
        z.template segment<H>(0).cwiseProduct(z.template segment<H>(2 * H));
    auto h = in.template segment<H>(1);
    h = z.template segment<H>(3 * H).cwiseProduct(c.array().tanh().matrix());
    return dense.dot(h) + dense_bias;
  }
  void load(const float *kernel, const float *recurrent, const float *bias) {
    for (int g = 0; g < 4 * H; ++g) {
      w(g, 0) = kernel[g];
      for (int j = 0; j < H; ++j)
        w(g, 1 + j) = recurrent[j * 4 * H + g];
      w(g, H + 1) = bias[g];
    }
  }
};
#elif defined(CELL_GRU)
struct Cell {
  Eigen::Matrix<float, 3 * H, 2> wx;     // [kernel^T | input bias]
  Eigen::Matrix<float, 3 * H, H + 1> wh; // [recurrent^T | recurrent bias]
  Eigen::Matrix<float, 2, 1> x1;         // [x, 1]
  Eigen::Matrix<float, H + 1, 1> h1;     // [h, 1]
  Eigen::Matrix<float, 3 * H, 1> zx, zh;
  Eigen::Matrix<float, 2 * H, 1> zr;
  Eigen::Matrix<float, H, 1> dense;
  float dense_bias;

  void reset() {
    x1(1) = 1.0f;
    h1.setZero();
    h1(H) = 1.0f;
  }
  float step(float x) {
    x1(0) = x;
    zx.noalias() = wx * x1;
    zh.noalias() = wh * h1;
    zr = zx.template segment<2 * H>(0) + zh.template segment<2 * H>(0);
    sigmoid(zr);
    Eigen::Matrix<float, H, 1> cand =
        (zx.template segment<H>(2 * H) +
         zr.template segment<H>(H).cwiseProduct(zh.template segment<H>(2 * H)))
            .array()
            .tanh()
            .matrix();
    auto h = h1.template segment<H>(0);
    h = zr.template segment<H>(0).cwiseProduct(h) +
        (1.0f - zr.template segment<H>(0).array()).matrix().cwiseProduct(cand);
    return dense.dot(h) + dense_bias;
  }
  void load(const float *kernel, const float *recurrent, const float *bias) {
    for (int g = 0; g < 3 * H; ++g) {
      wx(g, 0) = kernel[g];
      wx(g, 1) = bias[g];
      for (int j = 0; j < H; ++j)
        wh(g, j) = recurrent[j * 3 * H + g];
      wh(g, H) = bias[3 * H + g];
    }
  }
};
#else
#error "define CELL_LSTM or CELL_GRU"
#endif

} // namespace

struct eigen_cell {
  EIGEN_MAKE_ALIGNED_OPERATOR_NEW
  Cell cell;
};

extern "C" eigen_cell *eigen_cell_new(const float *kernel, const float *recurrent,
                                      const float *bias, const float *dense_kernel,
                                      float dense_bias) {
  eigen_cell *c = new (std::nothrow) eigen_cell;
  if (!c)
    return nullptr;
  c->cell.load(kernel, recurrent, bias);
  for (int j = 0; j < H; ++j)
    c->cell.dense(j) = dense_kernel[j];
  c->cell.dense_bias = dense_bias;
  c->cell.reset();
  return c;
}

extern "C" void eigen_cell_reset(eigen_cell *c) {
  c->cell.reset();
}

extern "C" float eigen_cell_step(eigen_cell *c, float x) {
  return c->cell.step(x);
}

extern "C" void eigen_cell_free(eigen_cell *c) {
  delete c;
}
