/*
** blas_lock.c: the process's lock around BLAS and LAPACK calls (blas_lock.h).
*/
#include "blas_lock.h"

#if defined(_WIN32) || defined(SQLML_NO_THREADS)
void ml_blas_lock(void) {}
void ml_blas_unlock(void) {}
#else
#include <pthread.h>

static pthread_mutex_t blas_mutex = PTHREAD_MUTEX_INITIALIZER;

void ml_blas_lock(void) { pthread_mutex_lock(&blas_mutex); }
void ml_blas_unlock(void) { pthread_mutex_unlock(&blas_mutex); }
#endif
