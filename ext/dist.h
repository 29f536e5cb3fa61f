/*
** dist.h: tail probabilities of Student's t and Fisher's F distributions,
** for p-values, through the regularized incomplete beta function.  Free of
** SQLite.  Accuracy is held to 1e-10 relative against R's pt()/pf() by
** tests/ref (docs/internals.md says why this is written here and not linked).
*/
#ifndef SQLML_DIST_H
#define SQLML_DIST_H

/* log B(a, b) for a, b > 0, without the cancellation of lgamma sums. */
/*
** log |Gamma(x)|, safe to call from two threads at once: C's lgamma also
** writes the global signgam (glibc's lgamma_r does not; elsewhere lgamma).
*/
double ml_lgamma(double x);

double ml_lbeta(double a, double b);

/*
** The regularized incomplete beta I_x(a, b) in *w and its complement
** 1 - I_x(a, b) in *w1, both to full relative accuracy.  y must be 1 - x,
** computed by the caller without cancellation.
*/
void ml_ibeta(double a, double b, double x, double y, double *w, double *w1);

/* P(|T| >= |t|) for T ~ t(df): the two-sided p-value of a t statistic. */
double ml_pt_2sided(double t, double df);

/* P(T <= t) for T ~ t(df). */
double ml_pt(double t, double df);

/* P(F >= f) for F ~ F(d1, d2): the p-value of an F statistic. */
double ml_pf_upper(double f, double d1, double d2);

/* The q with P(T <= q) = p for T ~ t(df), 0 < p < 1. */
double ml_qt(double p, double df);

/* P(|Z| >= |z|) for Z ~ N(0, 1): the two-sided p-value of a z statistic. */
double ml_pnorm_2sided(double z);

/* The q with P(Z <= q) = p for Z ~ N(0, 1), 0 < p < 1 (R's qnorm). */
double ml_qnorm(double p);

#endif
