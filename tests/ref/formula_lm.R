# R's side of formula_lm_vs_r.py: for each case line "kind<TAB>formula"
# (kind lm, lm_w weighted by w, binomial) fits lm() or glm() on data.tsv and
# prints names(coef), estimates, standard errors, R^2 (lm) or the deviance
# (glm), and predictions for new.tsv's rows: predict(..., interval =
# "prediction") for lm, predict(..., type = "response") for glm.
args <- commandArgs(trailingOnly = TRUE)
types <- scan(args[2], what = "", sep = "\t", quiet = TRUE)
cls <- ifelse(types == "cat", "factor", "numeric")
d <- read.delim(args[1], na.strings = "NA", colClasses = cls)
nd <- read.delim(args[4], na.strings = "NA", colClasses = cls)
for (lv in names(d)[types == "cat"]) nd[[lv]] <- factor(nd[[lv]], levels = levels(d[[lv]]))
cases <- readLines(args[3])
num <- function(v) ifelse(is.na(v), "NA", sprintf("%.17g", v))
for (line in cases) {
  kind <- sub("\t.*", "", line)
  text <- sub("^[^\t]*\t", "", line)
  cat("case\t", line, "\n", sep = "")
  f <- as.formula(text)
  if (kind == "binomial") {
    fit <- glm(f, data = d, family = binomial())
  } else if (kind == "lm_w") {
    fit <- lm(f, data = d, weights = w)
  } else {
    fit <- lm(f, data = d)
  }
  b <- coef(fit)
  se <- rep(NA, length(b))
  names(se) <- names(b)
  s <- summary(fit)
  se[rownames(s$coefficients)] <- s$coefficients[, 2]
  cat("names", names(b), sep = "\t"); cat("\n")
  cat("coef", num(b), sep = "\t"); cat("\n")
  cat("se", num(se), sep = "\t"); cat("\n")
  if (kind == "binomial") {
    cat("stat\t", num(deviance(fit)), "\n", sep = "")
    p <- suppressWarnings(predict(fit, newdata = nd, type = "response"))
    for (i in seq_along(p)) cat("pred\t", num(p[i]), "\n", sep = "")
  } else {
    cat("stat\t", num(s$r.squared), "\n", sep = "")
    p <- suppressWarnings(predict(fit, newdata = nd, interval = "prediction", level = 0.95))
    for (i in seq_len(nrow(p))) cat("pred", num(p[i, ]), "\n", sep = "\t")
  }
  cat("end\n")
}
