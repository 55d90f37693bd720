/* Shared by the benchmark harnesses (bench/stream.c, train.c, sgemm.c):
 * a monotonic clock, interleaved timing rounds with medians, normwise
 * differences, and a peer process (bench/torch_peer.py) spoken to over pipes.
 * Header-only: each harness is one translation unit. */
#ifndef RNNC_BENCH_H
#define RNNC_BENCH_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* fork, pipe, fdopen, clock_gettime */
#endif

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_ROUNDS 64
#define BENCH_MAX_IMPLS 8

/* The clock of every timing: the thread's CPU time (default), which leaves
 * out the time other processes on the shared core take while a block runs,
 * or, with BENCH_CLOCK=wall, the monotonic wall clock. */
static inline double bench_now_ns(void) {
  static int use_wall = -1;
  if (use_wall < 0) {
    const char *v = getenv("BENCH_CLOCK");
    use_wall = v && strcmp(v, "wall") == 0;
  }
  struct timespec ts;
  clock_gettime(use_wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline void bench_die(const char *what) {
  fprintf(stderr, "bench: %s\n", what);
  exit(2);
}

static inline int bench_env_int(const char *name, int fallback) {
  const char *v = getenv(name);
  return v && *v ? atoi(v) : fallback;
}

static inline double bench_env_double(const char *name, double fallback) {
  const char *v = getenv(name);
  return v && *v ? atof(v) : fallback;
}

/* One implementation under test. `run` does `reps` units of work (timesteps,
 * training steps, ...) and returns the nanoseconds they took, timed inside
 * so that a peer process can time its own work. */
typedef double (*bench_block_fn)(void *ctx, long reps);

typedef struct {
  const char *name;
  bench_block_fn run;
  void *ctx;
  long reps;                         /* units per block, from calibration */
  double per_unit[BENCH_MAX_ROUNDS]; /* ns per unit, one per round */
  double median, p25, p75, min, max; /* of per_unit */
} bench_impl;

static inline int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Quantile of sorted v by linear interpolation. */
static inline double bench_quantile(const double *v, int n, double q) {
  double pos = q * (n - 1);
  int i = (int)pos;
  if (i >= n - 1)
    return v[n - 1];
  return v[i] + (pos - i) * (v[i + 1] - v[i]);
}

/* Doubles reps from 1 until a block takes at least block_ns (the first
 * blocks also warm caches and branch predictors). */
static inline void bench_calibrate(bench_impl *impl, double block_ns) {
  long reps = 1;
  for (;;) {
    double t = impl->run(impl->ctx, reps);
    if (t >= block_ns || reps >= (1L << 40))
      break;
    /* jump close to the target, at most x16 at a time */
    double scale = t > 0 ? block_ns / t : 16.0;
    long next = (long)(reps * (scale > 16.0 ? 16.0 : scale * 1.1));
    reps = next > reps ? next : reps * 2;
  }
  impl->reps = reps;
}

/* Rounds of one block per implementation, the order rotated every round so
 * that no implementation always runs first or after the same neighbour. */
static inline void bench_interleave(bench_impl *impls, int n, int rounds) {
  if (rounds > BENCH_MAX_ROUNDS)
    rounds = BENCH_MAX_ROUNDS;
  for (int r = 0; r < rounds; ++r)
    for (int k = 0; k < n; ++k) {
      bench_impl *im = &impls[(k + r) % n];
      im->per_unit[r] = im->run(im->ctx, im->reps) / (double)im->reps;
    }
  for (int i = 0; i < n; ++i) {
    double sorted[BENCH_MAX_ROUNDS];
    memcpy(sorted, impls[i].per_unit, (size_t)rounds * sizeof *sorted);
    qsort(sorted, (size_t)rounds, sizeof *sorted, bench_cmp_double);
    impls[i].median = bench_quantile(sorted, rounds, 0.5);
    impls[i].p25 = bench_quantile(sorted, rounds, 0.25);
    impls[i].p75 = bench_quantile(sorted, rounds, 0.75);
    impls[i].min = sorted[0];
    impls[i].max = sorted[rounds - 1];
  }
}

/* "1,234 ±1.2%": the median in `unit_ns` units and the interquartile range
 * as a percentage of the median. */
static inline const char *bench_cell(char *buf, size_t len, const bench_impl *im, double unit_ns) {
  double v = im->median / unit_ns;
  double iqr = im->median > 0 ? 100.0 * (im->p75 - im->p25) / im->median : 0.0;
  if (v >= 100)
    snprintf(buf, len, "%.0f ±%.1f%%", v, iqr);
  else if (v >= 10)
    snprintf(buf, len, "%.1f ±%.1f%%", v, iqr);
  else
    snprintf(buf, len, "%.2f ±%.1f%%", v, iqr);
  return buf;
}

/* A ratio of medians: "3.42", "34.2", "342". */
static inline const char *bench_ratio(char *buf, size_t len, double ratio) {
  snprintf(buf, len, ratio >= 100 ? "%.0f" : ratio >= 10 ? "%.1f" : "%.2f", ratio);
  return buf;
}

/* Normwise relative difference: max |a - ref| / max |ref| (max |a - ref|
 * when ref is all zeros); any NaN gives +inf. */
static inline double bench_reldiff_f64(const double *a, const double *ref, size_t n) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = fabs(a[i] - ref[i]);
    if (!(d == d))
      return INFINITY;
    if (d > diff)
      diff = d;
    if (fabs(ref[i]) > scale)
      scale = fabs(ref[i]);
  }
  return scale > 0 ? diff / scale : diff;
}

/* ------------------------------------------------------------ the peer */
/* A child process answering one line per command line. Its stdin and stdout
 * are pipes; its stderr is ours. The child inherits our CPU affinity, so it
 * runs on the same pinned core, and it times its own work. */
typedef struct {
  pid_t pid;
  FILE *to;
  FILE *from;
  char line[4096];
} bench_peer;

static inline int bench_peer_start(bench_peer *p, char *const argv[]) {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0)
    return -1;
  fflush(NULL);
  p->pid = fork();
  if (p->pid < 0)
    return -1;
  if (p->pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    execvp(argv[0], argv);
    fprintf(stderr, "bench: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  p->to = fdopen(in[1], "w");
  p->from = fdopen(out[0], "r");
  return p->to && p->from ? 0 : -1;
}

/* Sends a command line and returns the reply line (without its newline), or
 * NULL when the peer has died. */
static inline const char *bench_peer_ask(bench_peer *p, const char *command) {
  if (fprintf(p->to, "%s\n", command) < 0 || fflush(p->to) != 0)
    return NULL;
  if (!fgets(p->line, sizeof p->line, p->from))
    return NULL;
  p->line[strcspn(p->line, "\n")] = 0;
  return p->line;
}

static inline void bench_peer_stop(bench_peer *p) {
  if (p->pid <= 0)
    return;
  fprintf(p->to, "quit\n");
  fclose(p->to);
  fclose(p->from);
  waitpid(p->pid, NULL, 0);
  p->pid = 0;
}

/* A block on the peer: "time <command> <reps>" answered by elapsed ns. */
typedef struct {
  bench_peer *peer;
  const char *command;
} bench_peer_block;

static inline double bench_peer_run(void *ctx, long reps) {
  bench_peer_block *b = ctx;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "time %s %ld", b->command, reps);
  const char *reply = bench_peer_ask(b->peer, cmd);
  if (!reply)
    bench_die("the PyTorch peer died");
  return atof(reply);
}

/* Reads n little-endian float64 written by the peer. */
static inline int bench_read_f64(const char *path, double *v, size_t n) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  size_t got = fread(v, sizeof *v, n, f);
  int extra = fgetc(f) != EOF;
  fclose(f);
  return got == n && !extra ? 0 : -1;
}

#endif
