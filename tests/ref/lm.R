# Fits lm() to a CSV (y first, then the features; NA for NULL) and prints
# what summary.lm reports, one value per line, for tests/ref/lm_vs_r.py.
# Usage: Rscript lm.R data.csv intercept(1|0)
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
f <- if (args[2] == "1") y ~ . else y ~ 0 + .
m <- lm(f, d)
s <- summary(m)
p <- function(...) cat(sprintf("%s\n", paste(...)))
num <- function(v) ifelse(is.na(v), "NA", sprintf("%.17g", v))
cf <- coef(m)
cs <- s$coefficients
for (i in seq_along(cf)) {
  n <- names(cf)[i]
  if (is.na(cf[i])) p("coef", i, "NA NA NA NA")
  else p("coef", i, num(cs[n, 1]), num(cs[n, 2]), num(cs[n, 3]), num(cs[n, 4]))
}
p("stat sigma", num(s$sigma))
p("stat r2", num(s$r.squared))
p("stat adj_r2", num(s$adj.r.squared))
if (!is.null(s$fstatistic)) {
  fs <- s$fstatistic
  p("stat f_stat", num(fs[1]))
  p("stat f_p_value", num(pf(fs[1], fs[2], fs[3], lower.tail = FALSE)))
}
p("stat loglik", num(as.numeric(logLik(m))))
p("stat aic", num(AIC(m)))
p("stat bic", num(BIC(m)))
p("stat df_resid", num(m$df.residual))
nd <- d[complete.cases(d), ][1:3, -1, drop = FALSE]
pr <- predict(m, nd)
for (i in seq_along(pr)) p("pred", i, num(pr[i]))
