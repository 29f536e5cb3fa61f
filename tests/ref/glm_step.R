# R's glm() on a data set where IRLS may diverge, for tests/ref/glm_vs_r.py:
# prints the coefficients, deviance and iterations, and each warning, or
# the error glm() stops with.
#   Rscript glm_step.R data.csv family formula maxit
a <- commandArgs(trailingOnly = TRUE)
d <- read.csv(a[1])
fmt <- function(v) sprintf("%.17g", v)
warned <- character(0)
fit <- tryCatch(withCallingHandlers(
  glm(as.formula(a[3]), family = get(a[2])(), data = d,
      control = glm.control(maxit = as.integer(a[4]))),
  warning = function(w) {
    warned <<- c(warned, conditionMessage(w))
    invokeRestart("muffleWarning")
  }), error = function(e) e)
if (inherits(fit, "error")) {
  cat("error", conditionMessage(fit), "\n")
} else {
  for (v in coef(fit)) cat("coef", fmt(v), "\n")
  cat("stat deviance", fmt(fit$deviance), "\n")
  cat("stat iterations", fit$iter, "\n")
  cat("stat converged", as.integer(fit$converged), "\n")
}
for (w in warned) cat("warning", w, "\n")
