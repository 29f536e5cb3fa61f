/*
** dist_check: compares dist.c with R (t, F, and the normal's p-values and quantiles).  Reads the lines tests/ref/dist.R
** prints, and fails unless every value agrees to 1e-10 relative (values
** below 1e-300, where R itself underflows, are compared absolutely).
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dist.h"

int main(void) {
  char kind[8];
  double a, b, c, want, worst = 0;
  int n = 0, bad = 0;
  while (scanf("%7s %lf %lf", kind, &a, &b) == 3) {
    double got;
    if (strcmp(kind, "pf") == 0) {
      if (scanf("%lf %lf", &c, &want) != 2) return 2;
      got = ml_pf_upper(a, b, c);
    } else {
      if (scanf("%lf", &want) != 1) return 2;
      got = strcmp(kind, "pt2") == 0   ? ml_pt_2sided(a, b)
            : strcmp(kind, "pn2") == 0 ? ml_pnorm_2sided(a)
            : strcmp(kind, "qn") == 0  ? ml_qnorm(a)
                                       : ml_qt(a, b);
    }
    double err = fabs(want) < 1e-300 ? fabs(got - want) : fabs(got - want) / fabs(want);
    if (!(err <= 1e-10)) {
      bad++;
      printf("dist: %s(%g, %g%s) = %.17g, R says %.17g\n", kind, a, b,
             strcmp(kind, "pf") == 0 ? ", ..." : "", got, want);
    }
    if (err > worst) worst = err;
    n++;
  }
  printf("dist: %d values against R, largest relative difference %.2g%s\n", n, worst,
         bad ? " FAILED" : "");
  return bad || n == 0;
}
