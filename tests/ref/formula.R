# Reference design matrices for tests/ref/formula_vs_r.py: for each formula
# (one a line of the formulas file), R's model.matrix() over the data with
# NAs passed through, the response, and whether each row's raw variables are
# complete (what na.omit keeps).  Categorical columns are factors with their
# levels in byte order (the C collation).
#   Rscript formula.R data.tsv types.tsv formulas.txt
invisible(Sys.setlocale("LC_COLLATE", "C"))
args <- commandArgs(trailingOnly = TRUE)
d <- read.delim(args[1], check.names = FALSE, na.strings = "NA", stringsAsFactors = FALSE,
                quote = "", colClasses = "character")
types <- strsplit(readLines(args[2]), "\t")[[1]]
for (i in seq_along(types)) {
  v <- d[[i]]
  d[[i]] <- if (types[i] == "cat") factor(v, levels = sort(unique(v[!is.na(v)]))) else as.numeric(v)
}
num <- function(v) ifelse(is.na(v), "NA", sprintf("%.17g", v))
for (line in readLines(args[3])) {
  cat("case\t", line, "\n", sep = "")
  res <- tryCatch({
    f <- as.formula(line)
    mf <- model.frame(f, d, na.action = na.pass)
    mm <- model.matrix(attr(mf, "terms"), mf)  # as lm() does
    vars <- all.vars(terms(f, data = d))
    complete <- complete.cases(d[, vars, drop = FALSE])
    y <- if (attr(terms(f, data = d), "response") == 1) model.response(mf) else rep(NA, nrow(d))
    cat("names", colnames(mm), sep = "\t")
    cat("\n")
    for (r in seq_len(nrow(d)))
      cat("row", as.integer(complete[r]), num(y[r]), num(mm[r, ]), sep = "\t", fill = FALSE, "\n")
    NULL
  }, error = function(e) conditionMessage(e))
  if (!is.null(res)) cat("error\t", gsub("[\t\n]", " ", res), "\n", sep = "")
  cat("end\n")
}
