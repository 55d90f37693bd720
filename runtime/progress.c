/* Keras's Progbar: the bar, the values, the step times, the live line on a
 * terminal and the epoch's final line.
 *
 * POSIX (isatty, a monotonic clock) behind a guard, the rest C99. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <math.h>
#include <stdio.h>
#include <time.h>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#define FIT_POSIX 1
#endif

#include "fit_internal.h"

double fit_now(void) {
#if defined(FIT_POSIX) && defined(CLOCK_MONOTONIC)
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
#endif
  return (double)clock() / CLOCKS_PER_SEC;
}

int fit_stdout_is_terminal(void) {
#ifdef FIT_POSIX
  return isatty(fileno(stdout));
#else
  return 0;
#endif
}

/* Keras's Progbar value: %.4f, or %.4e for magnitudes up to 1e-3 (0 too). */
void fit_print_value(const char *name, double v) {
  if (fabs(v) > 1e-3)
    printf(" - %s: %.4f", name, v);
  else
    printf(" - %s: %.4e", name, v);
}

/* Keras's Progbar._format_time. */
int fit_format_time(char *buf, size_t len, double per, const char *unit) {
  if (per >= 1 || per == 0)
    return snprintf(buf, len, " %.0fs/%s", per, unit);
  if (per >= 1e-3)
    return snprintf(buf, len, " %.0fms/%s", per * 1e3, unit);
  return snprintf(buf, len, " %.0fus/%s", per * 1e6, unit);
}

static int digits(int v) {
  int d = 1;
  while (v >= 10) {
    v /= 10;
    ++d;
  }
  return d;
}

/* "  3/10 [========>.....................]" */
int fit_print_bar(int current, int target) {
  char bar[64];
  int width = 30, prog = (int)((double)width * current / target), at = 0;
  if (prog > 0) {
    for (int i = 0; i < prog - 1; ++i)
      bar[at++] = '=';
    bar[at++] = current < target ? '>' : '=';
  }
  while (at < width)
    bar[at++] = '.';
  bar[at] = '\0';
  return printf("%*d/%d [%s]", digits(target), current, target, bar);
}

/* The live bar while an epoch runs: running means of the values. */
void fit_progress_update(progress_t *p, int current, const rnnc_logs *running) {
  double now = fit_now();
  if (now - p->last < 0.05)
    return;
  p->last = now;
  printf("\r");
  int w = fit_print_bar(current, p->steps);
  double eta = (now - p->start) / current * (p->steps - current);
  if (eta > 3600)
    w += printf(" - ETA: %d:%02d:%02d", (int)(eta / 3600), (int)fmod(eta / 60, 60),
                (int)fmod(eta, 60));
  else if (eta > 60)
    w += printf(" - ETA: %d:%02d", (int)(eta / 60), (int)fmod(eta, 60));
  else
    w += printf(" - ETA: %ds", (int)eta);
  for (int i = 0; i < running->count; ++i) {
    double v = running->values[i];
    w += printf(fabs(v) > 1e-3 ? " - %s: %.4f" : " - %s: %.4e", running->names[i], v);
  }
  if (w < p->width)
    printf("%*s", p->width - w, "");
  p->width = w;
  fflush(stdout);
}

/* The epoch's final line (Keras's finalize). */
void fit_progress_final(progress_t *p, const rnnc_logs *logs) {
  double seconds = fit_now() - p->start;
  char t[64];
  int w = 0;
  if (p->live)
    printf("\r");
  if (p->verbose == 1) {
    w += fit_print_bar(p->steps, p->steps);
    w += printf(" - %.0fs", seconds);
  } else
    w += printf("%d/%d - %.0fs -", p->steps, p->steps, seconds);
  fit_format_time(t, sizeof t, seconds / p->steps, "step");
  w += printf("%s", t);
  for (int i = 0; i < logs->count; ++i) {
    double v = logs->values[i];
    w += printf(fabs(v) > 1e-3 ? " - %s: %.4f" : " - %s: %.4e", logs->names[i], v);
  }
  if (p->live && w < p->width)
    printf("%*s", p->width - w, "");
  printf("\n");
  fflush(stdout);
}
