/* The group of rnnc_fit_group over MPI point-to-point and collective calls,
 * and the driver's main for mpirun. Only data moves through MPI: every sum
 * is rnnc's own, in micro-batch order (runtime/parallel.c), so a run on N
 * processes gives the bytes of one process (MPI_Allreduce's order is the
 * implementation's, and would not). */
#include "rnnc_mpi.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG 16
#define CHUNK ((size_t)1 << 30) /* MPI counts are ints */

static MPI_Comm comm_of(void *user) {
  return *(MPI_Comm *)user;
}

static int send_fn(void *user, int to, const void *buf, size_t bytes) {
  for (size_t at = 0; at < bytes || at == 0; at += CHUNK) {
    size_t n = bytes - at < CHUNK ? bytes - at : CHUNK;
    if (MPI_Send((const char *)buf + at, (int)n, MPI_BYTE, to, TAG, comm_of(user)) != MPI_SUCCESS)
      return -1;
    if (bytes == 0)
      break;
  }
  return 0;
}

static int recv_fn(void *user, int from, void *buf, size_t bytes) {
  for (size_t at = 0; at < bytes || at == 0; at += CHUNK) {
    size_t n = bytes - at < CHUNK ? bytes - at : CHUNK;
    if (MPI_Recv((char *)buf + at, (int)n, MPI_BYTE, from, TAG, comm_of(user), MPI_STATUS_IGNORE) !=
        MPI_SUCCESS)
      return -1;
    if (bytes == 0)
      break;
  }
  return 0;
}

static int bcast_fn(void *user, void *buf, size_t bytes, int root) {
  for (size_t at = 0; at < bytes; at += CHUNK) {
    size_t n = bytes - at < CHUNK ? bytes - at : CHUNK;
    if (MPI_Bcast((char *)buf + at, (int)n, MPI_BYTE, root, comm_of(user)) != MPI_SUCCESS)
      return -1;
  }
  return 0;
}

static int allgatherv_fn(void *user, void *buf, const size_t *bytes, const size_t *displs) {
  int size, rc;
  MPI_Comm_size(comm_of(user), &size);
  int *counts = malloc((size_t)size * sizeof *counts),
      *offsets = malloc((size_t)size * sizeof *offsets);
  if (!counts || !offsets) {
    free(counts);
    free(offsets);
    return -1;
  }
  for (int r = 0; r < size; ++r) {
    if (bytes[r] > INT_MAX || displs[r] > INT_MAX) {
      free(counts);
      free(offsets);
      return -1;
    }
    counts[r] = (int)bytes[r];
    offsets[r] = (int)displs[r];
  }
  rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, offsets, MPI_BYTE,
                      comm_of(user));
  free(counts);
  free(offsets);
  return rc == MPI_SUCCESS ? 0 : -1;
}

static void abort_fn(void *user, int status) {
  fflush(stdout);
  fflush(stderr);
  MPI_Abort(comm_of(user), status);
}

void rnnc_mpi_group(rnnc_fit_group *g, MPI_Comm *comm) {
  memset(g, 0, sizeof *g);
  MPI_Comm_rank(*comm, &g->rank);
  MPI_Comm_size(*comm, &g->size);
  g->user = comm;
  g->send = send_fn;
  g->recv = recv_fn;
  g->bcast = bcast_fn;
  g->allgatherv = allgatherv_fn;
  g->abort = abort_fn;
}

int rnnc_mpi_main(const rnnc_model *m, int argc, char **argv) {
  MPI_Comm comm;
  rnnc_fit_group g;
  int rc = 0;
  int provided; /* threads (--threads) make no MPI calls */
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  rnnc_mpi_group(&g, &comm);
  int fit = argc >= 2 && strcmp(argv[1], "fit") == 0;
  if (g.rank != 0 && !freopen("/dev/null", "w", stdout)) /* rank 0 prints */
    rc = 1;
  else if (fit)
    rc = rnnc_main_group(m, argc, argv, &g);
  else if (g.rank == 0) /* one process is enough for the other commands */
    rc = rnnc_main(m, argc, argv);
  /* every rank ends with the same status: the highest */
  int worst = rc;
  MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, comm);
  MPI_Comm_free(&comm);
  MPI_Finalize();
  return worst;
}
