/* Data parallelism: a pool of POSIX threads, and each training step's
 * micro-batches computed on the pool's threads and on the processes of a
 * group (MPI), their gradients summed in one fixed order.
 *
 * The order. A step of `count` samples is cut into micro-batches of M
 * samples (the last may be shorter): micro-batch i holds samples
 * [i M, min((i + 1) M, count)), k_i of them. Each one's loss_grad gives the
 * mean loss l_i and the gradient g_i of its own samples; the step's are
 *
 *   loss = sum_i l_i w_i,   grad = (...((w_0 g_0) + w_1 g_1) + ...) + w_{P-1} g_{P-1}
 *
 * with w_i = k_i / count in double, each term rounded to the model's real
 * before it is added, left to right in micro-batch order: the rule fit.c
 * always had for a batch larger than the unit's. Threads and processes only
 * decide who computes which g_i; every sum is done in that order, so the
 * bytes depend on the batch size and M, never on how many threads or
 * processes there are.
 *
 * Who computes what. Rank r of a group of N owns the micro-batches
 * [P r / N, P (r + 1) / N); its threads compute them a round of T at a time,
 * each on its own scratch. The rank that owns micro-batch 0 folds each
 * round into the gradient as soon as the round is done (a single process is
 * that rank). The others keep their g_i until the running sum reaches them:
 * it travels the owners in rank order in segments (a pipeline, so its time
 * is about one gradient's transfer, not N of them), each owner adding its
 * terms in order, and the last owner broadcasts the sum. The losses and the
 * predictions (and targets, for a reader) are gathered to every rank, so all
 * ranks keep the same logs, metrics and callbacks' state. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit_internal.h"

/* ---------------------------------------------------------------- the pool */

typedef struct {
  rnnc_pool *pool;
  int id;
} worker_t;

struct rnnc_pool {
  int threads;
  pthread_t *tid;
  worker_t *workers;
  int started; /* workers running */
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  unsigned long generation; /* bumped by every run */
  int pending;              /* workers still in the current run */
  int quit;
  void (*fn)(void *user, int thread, int threads);
  void *user;
};

static void *worker_main(void *arg) {
  worker_t *w = (worker_t *)arg;
  rnnc_pool *p = w->pool;
  unsigned long seen = 0;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (p->generation == seen && !p->quit)
      pthread_cond_wait(&p->go, &p->mu);
    if (p->quit)
      break;
    seen = p->generation;
    void (*fn)(void *, int, int) = p->fn;
    void *user = p->user;
    pthread_mutex_unlock(&p->mu);
    fn(user, w->id, p->threads);
    pthread_mutex_lock(&p->mu);
    if (--p->pending == 0)
      pthread_cond_signal(&p->done);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

rnnc_pool *rnnc_pool_new(int threads) {
  rnnc_pool *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->threads = threads > 1 ? threads : 1;
  if (p->threads == 1)
    return p;
  p->tid = calloc((size_t)p->threads, sizeof *p->tid);
  p->workers = calloc((size_t)p->threads, sizeof *p->workers);
  if (!p->tid || !p->workers || pthread_mutex_init(&p->mu, NULL) != 0) {
    free(p->tid);
    free(p->workers);
    free(p);
    return NULL;
  }
  pthread_cond_init(&p->go, NULL);
  pthread_cond_init(&p->done, NULL);
  for (int i = 1; i < p->threads; ++i) {
    p->workers[i].pool = p;
    p->workers[i].id = i;
    if (pthread_create(&p->tid[i], NULL, worker_main, &p->workers[i]) != 0) {
      rnnc_pool_free(p);
      return NULL;
    }
    p->started = i;
  }
  return p;
}

void rnnc_pool_free(rnnc_pool *p) {
  if (!p)
    return;
  if (p->threads > 1) {
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i <= p->started; ++i)
      pthread_join(p->tid[i], NULL);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
  }
  free(p->tid);
  free(p->workers);
  free(p);
}

int rnnc_pool_threads(const rnnc_pool *p) {
  return p ? p->threads : 1;
}

void rnnc_pool_run(rnnc_pool *p, void (*fn)(void *user, int thread, int threads), void *user) {
  if (!p || p->threads == 1) {
    fn(user, 0, 1);
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->fn = fn;
  p->user = user;
  p->pending = p->threads - 1;
  p->generation++;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  fn(user, 0, p->threads);
  pthread_mutex_lock(&p->mu);
  while (p->pending > 0)
    pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}

/* ---------------------------------------------------------------- predict and streams */

typedef struct {
  const rnnc_model *m;
  const void *params, *x;
  void *y;
  size_t n;
  void **scratch;
} predict_job;

static void predict_task(void *user, int t, int threads) {
  predict_job *j = (predict_job *)user;
  const rnnc_model *m = j->m;
  size_t rs = rnnc_dtype_size(m->dtype), b = (size_t)m->batch;
  /* call c covers samples [c B, c B + B): the calls of one thread */
  for (size_t first = (size_t)t * b; first < j->n; first += (size_t)threads * b) {
    int count = (int)(j->n - first < b ? j->n - first : b);
    m->forward(j->params, j->scratch[t],
               (const char *)j->x + first * m->input_size * rnnc_x_bytes(m),
               (char *)j->y + first * m->output_size * rs, count);
  }
}

int rnnc_predict(const rnnc_model *m, const void *params, const void *x, void *y, size_t n,
                 int steps, int threads, char *err, size_t errlen) {
  size_t calls = (n + (size_t)m->batch - 1) / (size_t)m->batch;
  int t = threads > 1 ? threads : 1, rc = 0;
  if ((size_t)t > calls)
    t = calls > 0 ? (int)calls : 1;
  predict_job j = {m, params, x, y, n, calloc((size_t)t, sizeof(void *))};
  rnnc_pool *pool = j.scratch ? rnnc_pool_new(t) : NULL;
  for (int i = 0; pool && i < t && rc == 0; ++i)
    if (!(j.scratch[i] = rnnc_alloc(m->scratch_bytes)))
      rc = -1;
  if (!pool || rc != 0) {
    snprintf(err, errlen, "out of memory (or no threads) for %d threads", t);
    rc = -1;
  }
  for (int i = 0; rc == 0 && i < t; ++i)
    if (m->set_steps(j.scratch[i], steps > 0 ? steps : m->max_steps) != 0) {
      snprintf(err, errlen, "sequence length %d is outside what the model takes (%s%d)", steps,
               m->variable_steps ? "1.." : "", m->max_steps);
      rc = -1;
    }
  if (rc == 0)
    rnnc_pool_run(pool, predict_task, &j);
  for (int i = 0; j.scratch && i < t; ++i)
    rnnc_free(j.scratch[i]);
  free(j.scratch);
  rnnc_pool_free(pool);
  return rc;
}

typedef struct {
  const rnnc_model *m;
  const void *params, *x;
  void *streams, *y;
  size_t count;
} stream_job;

static void stream_task(void *user, int t, int threads) {
  stream_job *j = (stream_job *)user;
  const rnnc_model *m = j->m;
  size_t rs = rnnc_dtype_size(m->dtype);
  size_t first = j->count * (size_t)t / (size_t)threads;
  size_t last = j->count * (size_t)(t + 1) / (size_t)threads;
  for (size_t s = first; s < last; ++s)
    m->stream_step(j->params, (char *)j->streams + s * m->stream_bytes,
                   (const char *)j->x + s * m->stream_input_size * rnnc_x_bytes(m),
                   (char *)j->y + s * m->stream_output_size * rs);
}

void rnnc_stream_step_many(const rnnc_model *m, const void *params, void *streams, const void *x_t,
                           void *y_t, size_t count, rnnc_pool *pool) {
  stream_job j = {m, params, x_t, streams, y_t, count};
  rnnc_pool_run(pool, stream_task, &j);
}

/* ---------------------------------------------------------------- a step's micro-batches */

struct fit_par {
  const rnnc_model *m;
  size_t rs;
  int threads, micro;
  int rank, size; /* of the group (0, 1: one process) */
  const rnnc_fit_group *group;
  rnnc_fit_reader reader;
  rnnc_pool *pool;
  void **scratch; /* one per thread */
  void **gbuf;    /* gradients: one per thread (rank owning micro-batch 0), else one per own */
  int n_gbuf;
  double *losses; /* per micro-batch of the step: the loss, then each output's (stride reals) */
  int stride;     /* 1, or 1 + n_outputs for a unit that reports each output's loss */
  size_t *bytes, *displs; /* per rank, for allgatherv */
  /* the step in progress, read by the threads */
  const void *params, *x, *y;
  const void *sw; /* the samples' weights, or NULL */
  void *grad, *bpred;
  int count, n_micro, base, end, lo; /* round [base, end); own micro-batches from lo */
  int folding;                       /* this rank folds as the rounds go */
  int need_grad; /* 0: the loss at inference (eval_loss when the unit has one) */
  /* the noise layers' key of this step (fit_par_set_noise) */
  uint64_t noise_seed;
  long noise_step;
};

/* micro-batches of a batch of `count` samples */
static int n_micro_of(const fit_par *p, int count) {
  return (count + p->micro - 1) / p->micro;
}

/* rank r's micro-batches of P: [first, last) */
static void owned(int n_micro, int rank, int size, int *first, int *last) {
  *first = (int)((long)n_micro * rank / size);
  *last = (int)((long)n_micro * (rank + 1) / size);
}

static int micro_samples(const fit_par *p, int i) {
  int k = p->count - i * p->micro;
  return k < p->micro ? k : p->micro;
}

static void *gbuf_of(const fit_par *p, int i) {
  if (p->n_micro == 1)
    return p->grad;
  return p->folding ? p->gbuf[i - p->base] : p->gbuf[i - p->lo];
}

/* grad[j0, j1) (+)= w_i g_i: the one place the terms are added */
static void fold(const fit_par *p, void *grad, const void *g, int i, size_t j0, size_t j1) {
  double w = (double)micro_samples(p, i) / (double)p->count;
  if (p->m->dtype == RNNC_F32) {
    float *G = (float *)grad;
    const float *s = (const float *)g;
    if (i == 0)
      for (size_t j = j0; j < j1; ++j)
        G[j] = (float)(w * s[j]);
    else
      for (size_t j = j0; j < j1; ++j)
        G[j] = G[j] + (float)(w * s[j]);
  } else {
    double *G = (double *)grad;
    const double *s = (const double *)g;
    if (i == 0)
      for (size_t j = j0; j < j1; ++j)
        G[j] = w * s[j];
    else
      for (size_t j = j0; j < j1; ++j) {
        double v = w * s[j];
        G[j] = G[j] + v;
      }
  }
}

static void compute_task(void *user, int t, int threads) {
  fit_par *p = (fit_par *)user;
  const rnnc_model *m = p->m;
  (void)threads;
  int i = p->base + t;
  if (i >= p->end)
    return;
  size_t first = (size_t)i * (size_t)p->micro;
  double *l = p->losses + (size_t)i * (size_t)p->stride;
  if (p->need_grad && m->set_noise != NULL) /* the masks of these samples of the step */
    m->set_noise(p->scratch[t], p->noise_seed, p->noise_step, (long)first);
  /* this micro-batch's samples: inputs, targets, weights (NULL: none), predictions */
  const char *x = (const char *)p->x + first * m->input_size * rnnc_x_bytes(m);
  const char *y = (const char *)p->y + first * m->target_size * p->rs;
  const char *sw = p->sw != NULL ? (const char *)p->sw + first * p->rs : NULL;
  char *pred = (char *)p->bpred + first * m->output_size * p->rs;
  int k = micro_samples(p, i);
  if (!p->need_grad && m->eval_loss != NULL) /* e.g. BatchNormalization's moving statistics */
    l[0] = sw != NULL ? m->eval_loss_weighted(p->params, p->scratch[t], x, y, sw, pred, k)
                      : m->eval_loss(p->params, p->scratch[t], x, y, pred, k);
  else if (sw != NULL) /* fit's sample weights (the unit has loss_grad_weighted: fit.c) */
    l[0] = m->loss_grad_weighted(p->params, p->scratch[t], x, y, sw, gbuf_of(p, i), NULL, pred, k);
  else
    l[0] = m->loss_grad(p->params, p->scratch[t], x, y, gbuf_of(p, i), NULL, pred, k);
  if (p->stride > 1) /* each output's loss, where the unit leaves it */
    memcpy(l + 1, (const char *)p->scratch[t] + m->losses_offset, (size_t)m->n_outputs * sizeof *l);
}

/* the round's terms into the gradient, each thread a slice of the parameters */
static void fold_task(void *user, int t, int threads) {
  fit_par *p = (fit_par *)user;
  size_t n = p->m->n_params;
  size_t j0 = n * (size_t)t / (size_t)threads, j1 = n * (size_t)(t + 1) / (size_t)threads;
  for (int i = p->base; i < p->end; ++i)
    fold(p, p->grad, gbuf_of(p, i), i, j0, j1);
}

void fit_par_free(fit_par *p) {
  if (!p)
    return;
  rnnc_pool_free(p->pool);
  for (int t = 0; p->scratch && t < p->threads; ++t)
    rnnc_free(p->scratch[t]);
  for (int i = 0; p->gbuf && i < p->n_gbuf; ++i)
    rnnc_free(p->gbuf[i]);
  free(p->scratch);
  free(p->gbuf);
  free(p->losses);
  free(p->bytes);
  free(p->displs);
  free(p);
}

fit_par *fit_par_new(const rnnc_model *m, const rnnc_fit_options *o, int steps, char *err,
                     size_t errlen) {
  int bs = o->batch_size, micro = o->micro_batch > 0 ? o->micro_batch : m->batch;
  if (o->micro_batch < 0 || micro > m->batch) {
    snprintf(err, errlen, "micro_batch %d is outside 1..%d (the unit's batch)", o->micro_batch,
             m->batch);
    return NULL;
  }
  if (o->threads < 0) {
    snprintf(err, errlen, "threads %d is negative", o->threads);
    return NULL;
  }
  fit_par *p = calloc(1, sizeof *p);
  if (!p) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  p->m = m;
  p->rs = rnnc_dtype_size(m->dtype);
  p->micro = micro;
  p->group = o->group;
  p->rank = o->group ? o->group->rank : 0;
  p->size = o->group && o->group->size > 1 ? o->group->size : 1;
  p->reader = o->reader;
  int most = (bs + micro - 1) / micro; /* micro-batches of a full batch */
  int mine = (most + p->size - 1) / p->size;
  p->threads = o->threads > 1 ? o->threads : 1;
  if (p->threads > mine)
    p->threads = mine; /* more would have nothing to do */
  /* rank 0 folds round by round (one buffer per thread); another rank keeps
   * its terms until the running sum arrives (one per own micro-batch) */
  p->n_gbuf = p->size == 1 || p->rank == 0 ? p->threads : mine;
  if (most == 1)
    p->n_gbuf = 0;
  p->scratch = calloc((size_t)p->threads, sizeof *p->scratch);
  p->gbuf = calloc((size_t)p->n_gbuf + 1, sizeof *p->gbuf);
  p->stride = 1;
  for (int k = 0; m->losses && k < m->n_outputs; ++k)
    if (m->losses[k].kind != RNNC_LOSS_NONE)
      p->stride = 1 + m->n_outputs;
  p->losses = calloc((size_t)most * (size_t)p->stride + 1, sizeof *p->losses);
  p->bytes = calloc((size_t)p->size, sizeof *p->bytes);
  p->displs = calloc((size_t)p->size, sizeof *p->displs);
  p->pool = rnnc_pool_new(p->threads);
  int ok = p->scratch && p->gbuf && p->losses && p->bytes && p->displs && p->pool;
  for (int t = 0; ok && t < p->threads; ++t)
    ok = (p->scratch[t] = rnnc_alloc(m->scratch_bytes)) != NULL;
  for (int i = 0; ok && i < p->n_gbuf; ++i)
    ok = (p->gbuf[i] = rnnc_alloc(m->params_bytes)) != NULL;
  if (!ok) {
    snprintf(err, errlen, "out of memory (or no threads) for %d threads", p->threads);
    fit_par_free(p);
    return NULL;
  }
  for (int t = 0; t < p->threads; ++t)
    if (m->set_steps(p->scratch[t], steps) != 0) {
      snprintf(err, errlen, "sequence length %d is outside what the model takes (%s%d)", steps,
               m->variable_steps ? "1.." : "", m->max_steps);
      fit_par_free(p);
      return NULL;
    }
  return p;
}

/* This rank's samples of a batch of `count`: [*first, *last). */
static void own_samples(const fit_par *p, int count, int *first, int *last) {
  int a, b;
  owned(n_micro_of(p, count), p->rank, p->size, &a, &b);
  *first = a * p->micro < count ? a * p->micro : count;
  *last = b * p->micro < count ? b * p->micro : count;
}

/* Rows [first, last) of every rank, `row` bytes each, gathered in place. */
static int gather_rows(fit_par *p, void *buf, int count, size_t row) {
  for (int r = 0; r < p->size; ++r) {
    int a, b, first, last;
    owned(n_micro_of(p, count), r, p->size, &a, &b);
    first = a * p->micro < count ? a * p->micro : count;
    last = b * p->micro < count ? b * p->micro : count;
    p->displs[r] = (size_t)first * row;
    p->bytes[r] = (size_t)(last - first) * row;
  }
  return p->group->allgatherv(p->group->user, buf, p->bytes, p->displs);
}

int fit_par_fetch(fit_par *p, const void *x, const void *y, const size_t *samples, int count,
                  void *bx, void *by, char *err, size_t errlen) {
  const rnnc_model *m = p->m;
  size_t xr = m->input_size * rnnc_x_bytes(m), yr = m->target_size * p->rs;
  int first, last;
  own_samples(p, count, &first, &last);
  if (p->reader.read) {
    char rerr[512] = "";
    if (last > first &&
        p->reader.read(p->reader.user, samples + first, last - first, (char *)bx + first * xr,
                       (char *)by + first * yr, rerr, sizeof rerr) != 0) {
      snprintf(err, errlen, "reading the training data: %s", rerr);
      if (p->size > 1) { /* the other ranks wait for this one's rows */
        fprintf(stderr, "error: rank %d: %s\n", p->rank, err);
        p->group->abort(p->group->user, 1);
      }
      return -1;
    }
    if (p->size > 1 && gather_rows(p, by, count, yr) != 0) {
      snprintf(err, errlen, "the group failed to gather the targets");
      return -1;
    }
    return 0;
  }
  for (int k = 0; k < count; ++k) {
    if (k >= first && k < last)
      memcpy((char *)bx + (size_t)k * xr, (const char *)x + samples[k] * xr, xr);
    memcpy((char *)by + (size_t)k * yr, (const char *)y + samples[k] * yr, yr);
  }
  return 0;
}

/* The owners of micro-batches next to `rank` in the chain: -1 when none. */
static int owner_before(int n_micro, int size, int rank) {
  for (int r = rank - 1; r >= 0; --r) {
    int a, b;
    owned(n_micro, r, size, &a, &b);
    if (b > a)
      return r;
  }
  return -1;
}

static int owner_after(int n_micro, int size, int rank) {
  for (int r = rank + 1; r < size; ++r) {
    int a, b;
    owned(n_micro, r, size, &a, &b);
    if (b > a)
      return r;
  }
  return -1;
}

/* elements per message of the chain: 64 KiB of float32 */
#define CHAIN_SEGMENT 16384

/* The running sum through the owners after micro-batch 0's, then from the
 * last owner to everyone. */
static int chain(fit_par *p) {
  const rnnc_model *m = p->m;
  const rnnc_fit_group *g = p->group;
  int lo, hi;
  owned(p->n_micro, p->rank, p->size, &lo, &hi);
  int prev = owner_before(p->n_micro, p->size, p->rank);
  int next = owner_after(p->n_micro, p->size, p->rank);
  int last = p->size - 1;
  while (last > 0) { /* the owner of the last micro-batch */
    int a, b;
    owned(p->n_micro, last, p->size, &a, &b);
    if (b > a)
      break;
    --last;
  }
  if (hi > lo)
    for (size_t j0 = 0; j0 < m->n_params; j0 += CHAIN_SEGMENT) {
      size_t j1 = j0 + CHAIN_SEGMENT < m->n_params ? j0 + CHAIN_SEGMENT : m->n_params;
      char *seg = (char *)p->grad + j0 * p->rs;
      if (prev >= 0) {
        if (g->recv(g->user, prev, seg, (j1 - j0) * p->rs) != 0)
          return -1;
        for (int i = lo; i < hi; ++i)
          fold(p, p->grad, gbuf_of(p, i), i, j0, j1);
      }
      if (next >= 0 && g->send(g->user, next, seg, (j1 - j0) * p->rs) != 0)
        return -1;
    }
  return g->bcast(g->user, p->grad, m->params_bytes, last);
}

double fit_par_loss_grad(fit_par *p, const void *params, const void *x, const void *y,
                         const void *sw, int count, void *grad, void *bpred, int need_grad,
                         double *part_loss) {
  const rnnc_model *m = p->m;
  int lo, hi;
  p->params = params;
  p->sw = sw;
  p->x = x;
  p->y = y;
  p->grad = grad;
  p->bpred = bpred;
  p->count = count;
  p->need_grad = need_grad;
  p->n_micro = n_micro_of(p, count);
  owned(p->n_micro, p->rank, p->size, &lo, &hi);
  p->lo = lo;
  p->folding = lo == 0 && hi > 0;
  for (p->base = lo; p->base < hi; p->base += p->threads) {
    p->end = p->base + p->threads < hi ? p->base + p->threads : hi;
    rnnc_pool_run(p->pool, compute_task, p);
    if (p->folding && p->n_micro > 1 && need_grad)
      rnnc_pool_run(p->pool, fold_task, p);
  }
  if (p->size > 1) {
    int rc = need_grad ? chain(p) : 0;
    for (int r = 0; rc == 0 && r < p->size; ++r) {
      int a, b;
      owned(p->n_micro, r, p->size, &a, &b);
      p->displs[r] = (size_t)a * (size_t)p->stride * sizeof *p->losses;
      p->bytes[r] = (size_t)(b - a) * (size_t)p->stride * sizeof *p->losses;
    }
    if (rc == 0)
      rc = p->group->allgatherv(p->group->user, p->losses, p->bytes, p->displs);
    if (rc == 0)
      rc = gather_rows(p, bpred, count, m->output_size * p->rs);
    if (rc != 0) {
      fprintf(stderr, "error: rank %d: the group's communication failed\n", p->rank);
      p->group->abort(p->group->user, 1);
      return NAN;
    }
  }
  size_t S = (size_t)p->stride;
  if (part_loss && S > 1)
    for (int k = 0; k < m->n_outputs; ++k) {
      part_loss[k] = p->losses[1 + k];
      if (p->n_micro > 1) {
        part_loss[k] = 0;
        for (int i = 0; i < p->n_micro; ++i)
          part_loss[k] += p->losses[(size_t)i * S + 1 + (size_t)k] *
                          ((double)micro_samples(p, i) / (double)count);
      }
    }
  if (p->n_micro == 1)
    return p->losses[0];
  double loss = 0;
  for (int i = 0; i < p->n_micro; ++i)
    loss += p->losses[(size_t)i * S] * ((double)micro_samples(p, i) / (double)count);
  return loss;
}

void fit_par_set_noise(fit_par *p, uint64_t seed, long step) {
  p->noise_seed = seed;
  p->noise_step = step;
}

void *fit_par_scratch(const fit_par *p, int t) {
  return p->scratch[t];
}

int fit_par_rank(const fit_par *p) {
  return p->rank;
}
