/*
** glm.h: the families of generalized linear models, free of SQLite.
**
** A family is a distribution of the response and its link: gaussian with
** the identity (the linear model, fitted in one pass), binomial with the
** logit, poisson with the log.  What IRLS needs of a family, row by row, is
** here, each function as R's family objects define it (binomial(),
** poisson(): the C code of stats' family.c and the R code of their
** initialize, dev.resids and aic), so that a fit by these rows is R's glm
** to rounding.  train.c drives the iterations; lsq.c does the algebra.
*/
#ifndef SQLML_GLM_H
#define SQLML_GLM_H

enum { ML_FAMILY_GAUSSIAN = 0, ML_FAMILY_BINOMIAL = 1, ML_FAMILY_POISSON = 2 };
enum { ML_LINK_IDENTITY = 0, ML_LINK_LOGIT = 1, ML_LINK_LOG = 2 };

/* R's glm.control() defaults. */
#define ML_GLM_MAX_ITER 25
#define ML_GLM_EPSILON 1e-8

/* "gaussian", "binomial", "poisson"; "identity", "logit", "log"; NULL if unknown. */
const char *ml_family_name(int family);
const char *ml_link_name(int link);
/* The family named z, or -1. */
int ml_family_from_name(const char *z);
/* The canonical link of a family: the only one sqlml fits. */
int ml_family_link(int family);

double ml_glm_linkfun(int family, double mu);
/* The inverse link, bounded as R's: logit within [eps, 1 - eps] (by eta
** beyond +-30), log at least eps (DBL_EPSILON). */
double ml_glm_linkinv(int family, double eta);
/* d mu / d eta, bounded below by DBL_EPSILON as R's. */
double ml_glm_mu_eta(int family, double eta);
double ml_glm_variance(int family, double mu);
/* Starting mean (R's mustart): binomial (w y + 0.5) / (w + 1), poisson y + 0.1. */
double ml_glm_mustart(int family, double y, double w);
/* A row's deviance residual, as R's dev.resids: weight w included. */
double ml_glm_dev_resid(int family, double y, double mu, double w);
/*
** A row's term of R's family$aic (minus twice the log likelihood): binomial
** -2 log dbinom(round(w y), round(w), mu) for w > 0, poisson -2 w log
** dpois(y, mu) (-Inf for a y that is not an integer, as R's dpois gives 0).
*/
double ml_glm_aic_term(int family, double y, double mu, double w);

/* What ml_glm_check_y finds of a response. */
enum { ML_GLM_Y_OK = 0, ML_GLM_Y_OUT, ML_GLM_Y_FRACTION };
/*
** Is y in the family's range?  binomial: 0 or 1, or (weighted) within
** [0, 1], ML_GLM_Y_FRACTION when w y is not within 1e-3 of an integer (R's
** "non-integer #successes" warning); poisson: y >= 0, ML_GLM_Y_FRACTION
** when not an integer (R's dpois warning).  ML_GLM_Y_OUT is an error.
*/
int ml_glm_check_y(int family, double y, double w, int weighted);

/*
** The working response z and working weight W of a row at linear predictor
** eta (offset included), for the weighted least squares step of IRLS:
**   z = eta - offset + (y - mu) / mu'(eta),  W = w mu'(eta)^2 / V(mu).
** *mu gets the mean.
*/
void ml_glm_work(int family, double y, double w, double eta, double offset, double *z,
                 double *W, double *mu);

/*
** ml_glm_linkinv and ml_glm_work at once, to the same bits, with one exp
** where the two take four: what a pass of IRLS does for every row.
*/
void ml_glm_eval(int family, double y, double w, double eta, double offset, double *mu,
                 double *z, double *W);

/*
** Does the row's AIC term split as ml_glm_dev_resid(y, mu, w) +
** ml_glm_aic_term(y, y, w), whatever mu?  1 for poisson, and for binomial
** when w and w y are whole numbers (R's dbinom rounds them; otherwise 0).
** Then the AIC of a fit is its deviance plus a sum that the first pass
** can make once.
*/
int ml_glm_aic_splits(int family, double y, double w);

/* R's convergence rule: |dev - devold| / (|dev| + 0.1) < epsilon. */
int ml_glm_converged(double dev, double devold, double epsilon);

#endif
