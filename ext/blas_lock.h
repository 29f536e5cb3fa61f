/*
** blas_lock.h: one BLAS call at a time in the process.
**
** Debian's OpenBLAS (the serial flavour sqlml installs, 0.3.21) is not safe
** to call from two threads at once: its level-3 routines share work
** buffers without a lock, and dtpqrt on two threads returned wrong factors
** (tests/unit: a fold on each of two threads).  A host that runs a fit on
** each of two connections in two threads, or ml_train's "threads", would
** get them.  Every LAPACK and BLAS call of sqlml holds this lock; it costs
** an uncontended mutex per call (per 256 rows in a fold), nothing a fit
** notices.  Builds without POSIX threads (Windows) take no lock.
*/
#ifndef SQLML_BLAS_LOCK_H
#define SQLML_BLAS_LOCK_H

void ml_blas_lock(void);
void ml_blas_unlock(void);

#endif
