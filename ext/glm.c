/*
** glm.c: the families of generalized linear models.  See glm.h.
*/
#include <float.h>
#include <math.h>
#include <string.h>

#include "dist.h"
#include "glm.h"

/* R's logit_linkinv and logit_mu_eta cut eta at +-30 (stats/src/family.c). */
#define LOGIT_THRESH 30.0

const char *ml_family_name(int family) {
  switch (family) {
    case ML_FAMILY_GAUSSIAN: return "gaussian";
    case ML_FAMILY_BINOMIAL: return "binomial";
    case ML_FAMILY_POISSON: return "poisson";
    default: return NULL;
  }
}

const char *ml_link_name(int link) {
  switch (link) {
    case ML_LINK_IDENTITY: return "identity";
    case ML_LINK_LOGIT: return "logit";
    case ML_LINK_LOG: return "log";
    default: return NULL;
  }
}

int ml_family_from_name(const char *z) {
  for (int f = ML_FAMILY_GAUSSIAN; f <= ML_FAMILY_POISSON; f++)
    if (strcmp(z, ml_family_name(f)) == 0) return f;
  return -1;
}

int ml_family_link(int family) {
  return family == ML_FAMILY_BINOMIAL ? ML_LINK_LOGIT
         : family == ML_FAMILY_POISSON ? ML_LINK_LOG : ML_LINK_IDENTITY;
}

double ml_glm_linkfun(int family, double mu) {
  if (family == ML_FAMILY_BINOMIAL) return log(mu / (1 - mu));
  if (family == ML_FAMILY_POISSON) return log(mu);
  return mu;
}

double ml_glm_linkinv(int family, double eta) {
  if (family == ML_FAMILY_BINOMIAL) {
    double t = eta < -LOGIT_THRESH ? DBL_EPSILON : eta > LOGIT_THRESH ? 1 / DBL_EPSILON : exp(eta);
    return t / (1 + t);
  }
  if (family == ML_FAMILY_POISSON) return fmax(exp(eta), DBL_EPSILON);
  return eta;
}

double ml_glm_mu_eta(int family, double eta) {
  if (family == ML_FAMILY_BINOMIAL) {
    double op = 1 + exp(eta);
    return eta > LOGIT_THRESH || eta < -LOGIT_THRESH ? DBL_EPSILON : exp(eta) / (op * op);
  }
  if (family == ML_FAMILY_POISSON) return fmax(exp(eta), DBL_EPSILON);
  return 1;
}

double ml_glm_variance(int family, double mu) {
  if (family == ML_FAMILY_BINOMIAL) return mu * (1 - mu);
  if (family == ML_FAMILY_POISSON) return mu;
  return 1;
}

double ml_glm_mustart(int family, double y, double w) {
  if (family == ML_FAMILY_BINOMIAL) return (w * y + 0.5) / (w + 1);
  if (family == ML_FAMILY_POISSON) return y + 0.1;
  return y;
}

/* y log(y / mu), 0 at y = 0 (R's y_log_y). */
static double y_log_y(double y, double mu) { return y != 0 ? y * log(y / mu) : 0; }

double ml_glm_dev_resid(int family, double y, double mu, double w) {
  if (family == ML_FAMILY_BINOMIAL) return 2 * w * (y_log_y(y, mu) + y_log_y(1 - y, 1 - mu));
  if (family == ML_FAMILY_POISSON) return y > 0 ? 2 * w * (y * log(y / mu) - (y - mu)) : 2 * mu * w;
  return w * (y - mu) * (y - mu);
}

double ml_glm_aic_term(int family, double y, double mu, double w) {
  if (family == ML_FAMILY_BINOMIAL) {
    if (!(w > 0)) return 0;
    double n = round(w), x = round(w * y);
    double l = ml_lgamma(n + 1) - ml_lgamma(x + 1) - ml_lgamma(n - x + 1);
    if (x > 0) l += x * log(mu);
    if (n - x > 0) l += (n - x) * log1p(-mu);
    return -2 * l;
  }
  if (family == ML_FAMILY_POISSON) {
    if (y != floor(y)) return INFINITY; /* dpois of a non-integer is 0 */
    double l = y > 0 ? y * log(mu) - mu - ml_lgamma(y + 1) : -mu;
    return -2 * l * w;
  }
  return 0;
}

int ml_glm_check_y(int family, double y, double w, int weighted) {
  if (family == ML_FAMILY_BINOMIAL) {
    if (!weighted) return y == 0 || y == 1 ? ML_GLM_Y_OK : ML_GLM_Y_OUT;
    if (!(y >= 0 && y <= 1)) return ML_GLM_Y_OUT;
    double s = w * y;
    return fabs(s - round(s)) > 1e-3 ? ML_GLM_Y_FRACTION : ML_GLM_Y_OK;
  }
  if (family == ML_FAMILY_POISSON) {
    if (!(y >= 0)) return ML_GLM_Y_OUT;
    return y != floor(y) ? ML_GLM_Y_FRACTION : ML_GLM_Y_OK;
  }
  return ML_GLM_Y_OK;
}

void ml_glm_work(int family, double y, double w, double eta, double offset, double *z,
                 double *W, double *mu) {
  double m = ml_glm_linkinv(family, eta), d = ml_glm_mu_eta(family, eta);
  *mu = m;
  *z = eta - offset + (y - m) / d;
  *W = w * d * d / ml_glm_variance(family, m);
}

int ml_glm_converged(double dev, double devold, double epsilon) {
  return fabs(dev - devold) / (fabs(dev) + 0.1) < epsilon;
}

void ml_glm_eval(int family, double y, double w, double eta, double offset, double *mu,
                 double *z, double *W) {
  double m, d;
  if (family == ML_FAMILY_BINOMIAL) {
    if (eta < -LOGIT_THRESH || eta > LOGIT_THRESH) {
      double t = eta < 0 ? DBL_EPSILON : 1 / DBL_EPSILON;
      m = t / (1 + t);
      d = DBL_EPSILON;
    } else {
      double e = exp(eta), op = 1 + e;
      m = e / op;
      d = e / (op * op);
    }
  } else if (family == ML_FAMILY_POISSON) {
    m = d = fmax(exp(eta), DBL_EPSILON);
  } else {
    m = eta;
    d = 1;
  }
  *mu = m;
  *z = eta - offset + (y - m) / d;
  *W = w * d * d / ml_glm_variance(family, m);
}

int ml_glm_aic_splits(int family, double y, double w) {
  if (family == ML_FAMILY_POISSON) return 1;
  if (w == 1) return family == ML_FAMILY_BINOMIAL && (y == 0 || y == 1); /* no rounding */
  return family == ML_FAMILY_BINOMIAL && w > 0 && w == round(w) && w * y == round(w * y);
}
