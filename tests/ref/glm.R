# Fits a GLM with R's glm() for tests/ref/glm_vs_r.py and prints what
# summary.glm and predict(type = "link", se.fit = TRUE) report.
#   Rscript glm.R data.csv family features factors intercept weights offset
# features, factors: comma-separated names ("-" none); weights, offset: a
# column or "-"; intercept 1 or 0.  Rows with train = 0 are left out.
a <- commandArgs(trailingOnly = TRUE)
d <- read.csv(a[1])
split_names <- function(s) if (s == "-") character(0) else strsplit(s, ",")[[1]]
feats <- split_names(a[3])
for (f in split_names(a[4])) d[[f]] <- factor(d[[f]])
# A text response is a factor: its second level is 1.
if (is.character(d$y)) d$y <- factor(d$y)
d <- d[d$train == 1, ]
rhs <- paste(c(if (a[5] == "1") "1" else "0", feats,
               if (a[7] != "-") paste0("offset(", a[7], ")")), collapse = " + ")
form <- as.formula(paste("y ~", rhs))
args <- list(formula = form, family = get(a[2])(), data = d)
if (a[6] != "-") args$weights <- d[[a[6]]]
fit <- do.call(glm, args)
s <- summary(fit)
cf <- coef(fit)
tab <- s$coefficients
fmt <- function(v) ifelse(is.na(v), "NA", sprintf("%.17g", v))
for (i in seq_along(cf)) {
  nm <- names(cf)[i]
  row <- if (nm %in% rownames(tab)) tab[nm, ] else rep(NA, 4)
  cat("coef", i, fmt(cf[i]), fmt(row[2]), fmt(row[3]), fmt(row[4]), "\n")
}
cat("stat deviance", fmt(fit$deviance), "\n")
cat("stat null_deviance", fmt(fit$null.deviance), "\n")
cat("stat df_null", fmt(fit$df.null), "\n")
cat("stat df_resid", fmt(fit$df.residual), "\n")
cat("stat aic", fmt(fit$aic), "\n")
cat("stat iterations", fmt(fit$iter), "\n")
ci <- confint.default(fit)
for (i in seq_len(nrow(ci))) cat("ci", i, fmt(ci[i, 1]), fmt(ci[i, 2]), "\n")
keep <- c(feats, "y", if (a[7] != "-") a[7])
nd <- d[complete.cases(d[, keep, drop = FALSE]), ][1:5, ]
p <- predict(fit, newdata = nd, type = "link", se.fit = TRUE)
for (i in 1:5) cat("pred", nd$id[i], fmt(fit$family$linkinv(p$fit[i])), fmt(p$fit[i]), fmt(p$se.fit[i]), "\n")
