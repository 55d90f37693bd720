/* rnnc on MPI: data-parallel training across processes (Open MPI, MPICH).
 * Compiled with mpicc, apart from librnnc (which knows no MPI): `rnnc build
 * --mpi` links it into the driver, a program of your own compiles
 * runtime/mpi/rnnc_mpi.c next to its unit. */
#ifndef RNNC_MPI_H
#define RNNC_MPI_H

#include <mpi.h>

#include "rnnc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A group over `comm` (after MPI_Init), for rnnc_fit_options.group. *comm
 * must outlive the group. */
void rnnc_mpi_group(rnnc_fit_group *group, MPI_Comm *comm);

/* The driver's main under mpirun: MPI_Init, then `fit` on every process
 * (each reads its share of the data; rank 0 prints and writes the files),
 * any other command on rank 0 alone; MPI_Finalize. */
int rnnc_mpi_main(const rnnc_model *model, int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
