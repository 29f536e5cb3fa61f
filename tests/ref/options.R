# Reference values for tests/ref/options_vs_r.py: fits lm() as told and
# prints what sqlml must match, one value per line.
# Usage: Rscript options.R data.csv spec
#   spec: comma-separated settings:
#     noint       no intercept        weights=w   weighted by column w
#     factor=c    column c as factor  nafactor=c  factor with NA as its last level
#     impute=c    NA in numeric c -> mean of c    hc=HC3  robust covariance type
#     level=0.9   interval level      new=new.csv rows to predict with intervals
suppressPackageStartupMessages(library(sandwich))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
spec <- strsplit(args[2], ",")[[1]]
get <- function(key) {
  v <- sub(paste0("^", key, "="), "", spec[startsWith(spec, paste0(key, "="))])
  if (length(v)) v else NULL
}
means <- list()
for (c in get("impute")) { means[[c]] <- mean(d[[c]], na.rm = TRUE); d[[c]][is.na(d[[c]])] <- means[[c]] }
fix <- function(df) {
  for (c in get("factor")) df[[c]] <- factor(df[[c]], levels = sort(unique(d[[c]][!is.na(d[[c]])]), method = "radix"))
  for (c in get("nafactor")) df[[c]] <- addNA(factor(df[[c]], levels = sort(unique(d[[c]][!is.na(d[[c]])]), method = "radix")), ifany = FALSE)
  for (c in names(means)) df[[c]][is.na(df[[c]])] <- means[[c]]
  df
}
d <- fix(d)
w <- get("weights")
feats <- setdiff(names(d), c("y", w))
f <- as.formula(paste(if ("noint" %in% spec) "y ~ 0 +" else "y ~", paste(feats, collapse = " + ")))
wv <- if (is.null(w)) NULL else d[[w]]  # (lm evaluates weights inside d: no column names here)
m <- if (is.null(w)) lm(f, d) else lm(f, d, weights = wv)
s <- summary(m)
num <- function(v) ifelse(is.na(v), "NA", sprintf("%.17g", v))
p <- function(...) cat(paste(...), "\n", sep = "")
cf <- coef(m)
cs <- s$coefficients
level <- as.numeric(if (is.null(get("level"))) "0.95" else get("level"))
ci <- confint(m, level = level)
hc <- get("hc")
V <- if (!is.null(hc)) vcovHC(m, type = hc) else NULL
for (i in seq_along(cf)) {
  n <- names(cf)[i]
  if (is.na(cf[i])) { p("coef ", i, " NA NA NA NA NA NA"); next }
  se <- cs[n, 2]; tt <- cs[n, 3]; pv <- cs[n, 4]
  lo <- ci[n, 1]; hi <- ci[n, 2]
  if (!is.null(V)) {
    # As lmtest's coeftest and coefci with vcov = vcovHC: t on the residual df.
    se <- sqrt(V[n, n]); tt <- cf[n] / se; pv <- 2 * pt(abs(tt), m$df.residual, lower.tail = FALSE)
    q <- qt(0.5 + level / 2, m$df.residual); lo <- cf[n] - q * se; hi <- cf[n] + q * se
  }
  p("coef ", i, " ", num(cf[n]), " ", num(se), " ", num(tt), " ", num(pv), " ", num(lo), " ", num(hi))
}
p("stat sigma ", num(s$sigma))
p("stat r2 ", num(s$r.squared))
p("stat adj_r2 ", num(s$adj.r.squared))
if (!is.null(s$fstatistic)) {
  p("stat f_stat ", num(s$fstatistic[1]))
  p("stat f_p_value ", num(pf(s$fstatistic[1], s$fstatistic[2], s$fstatistic[3], lower.tail = FALSE)))
}
p("stat loglik ", num(as.numeric(logLik(m))))
p("stat aic ", num(AIC(m)))
p("stat bic ", num(BIC(m)))
p("stat df_resid ", num(m$df.residual))
new <- get("new")
if (!is.null(new)) {
  nd <- fix(read.csv(new, stringsAsFactors = FALSE))
  ciw <- predict(m, nd, interval = "confidence", level = level)
  piw <- suppressWarnings(predict(m, nd, interval = "prediction", level = level))
  for (i in seq_len(nrow(nd)))
    p("pred ", i, " ", num(ciw[i, 1]), " ", num(ciw[i, 2]), " ", num(ciw[i, 3]), " ", num(piw[i, 2]), " ", num(piw[i, 3]))
}
