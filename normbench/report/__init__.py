"""`normbench report`: turn run directories into tables, figures and verdicts on common claims.

Modules, one concept each (every formula is written out in docs/report.md):
  discover     find run directories under the given roots
  events       read TensorBoard event files (all scalars, hparams, integrity check)
  load/        read every run into a runs table and per-run curves; unreadable runs get a reason
               (summary.json, metrics.csv, event-only runs, duplicates, the steps table: a module each)
  stability    stability metrics of one run: pure functions on arrays
  stats        means with Student-t intervals, Welch contrasts, curve alignment, display smoothing
  run_metrics  the per-run metric columns (what each metric is, its unit, which way is better)
  groups       settings (matched configurations), seed groups and their summaries
  claims       the claims as data, and their evaluation
  recommend    which norm to use per setting: the rule (accuracy, then stability, then cost), as small functions
  mixes        a per-layer mix of norms (batch+layer) against each of its norms run in every layer
  style        one colour per norm, the order norms are listed in
  plots/       the figures: data and panel grid, curves over training, stability, accuracy, heatmap
  sections     what the report says, as blocks (tables, paragraphs, figures)
  render       those blocks as report.md, the self-contained report.html, LaTeX tables and terminal text
  pipeline     the whole report, end to end, writing every file atomically
  cli          `normbench report` arguments -> pipeline, and the stdout summary

Nothing heavy (pandas, matplotlib, tensorboard) is imported here, so `import normbench` stays fast.
"""
