# Reference values of R's pt, pf and qt, as "kind args... value" lines, for
# tests/ref/dist_check.c.  R computes pt exactly up to 4e5 degrees of freedom
# (beyond, it switches to a normal approximation), so the grid stops there.
ts <- c(1e-3, 0.1, 0.5, 1, 1.96, 3, 10, 50, 300)
dfs <- c(1, 2, 3, 5, 10, 30, 100, 1000, 1e4, 1e5, 3e5)
for (df in dfs) for (t in ts)
  cat(sprintf("pt2 %.17g %.17g %.17g\n", t, df, 2 * pt(t, df, lower.tail = FALSE)))
fs <- c(0.01, 0.5, 1, 2, 5, 20, 100)
for (d1 in c(1, 2, 5, 10, 50)) for (d2 in c(1, 3, 10, 100, 1e4, 3e5)) for (f in fs)
  cat(sprintf("pf %.17g %.17g %.17g %.17g\n", f, d1, d2, pf(f, d1, d2, lower.tail = FALSE)))
for (df in dfs) for (p in c(0.6, 0.9, 0.95, 0.975, 0.995, 0.9995))
  cat(sprintf("qt %.17g %.17g %.17g\n", p, df, qt(p, df)))
# The normal's, for GLMs: two-sided p-values of z and quantiles (second field unused).
for (z in c(1e-3, 0.1, 1, 1.96, 3, 5, 8, 12, 20, 37))
  cat(sprintf("pn2 %.17g 0 %.17g\n", z, 2 * pnorm(z, lower.tail = FALSE)))
for (p in c(1e-300, 1e-20, 1e-8, 0.001, 0.025, 0.3, 0.6, 0.9, 0.95, 0.975, 0.995, 0.9999999))
  cat(sprintf("qn %.17g 0 %.17g\n", p, qnorm(p)))
