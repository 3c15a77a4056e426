"""The app's CSS (every class starts with `g-`)."""

CSS = """
.g-answer { line-height: 1.6; color: var(--body-text-color); }
.g-rewritten { font-size: 0.85em; color: var(--body-text-color-subdued); margin-bottom: 0.4em; }
.g-chip { display: inline-block; min-width: 1.6em; margin: 0 0.1em 0 0.2em; padding: 0 0.35em; border-radius: 0.7em;
  font-size: 0.78em; font-weight: 600; line-height: 1.5; text-align: center; text-decoration: none !important;
  vertical-align: baseline; cursor: pointer; color: var(--body-text-color) !important;
  background: var(--color-accent-soft, rgba(99, 102, 241, 0.15)); border: 1px solid var(--color-accent, #6366f1); }
.g-chip:hover, .g-chip:focus { background: var(--color-accent, #6366f1); color: var(--button-primary-text-color, #fff) !important; }
.g-mark { background: rgba(250, 204, 21, 0.40); color: inherit; border-radius: 2px; padding: 0 1px;
  box-shadow: 0 0 0 1px rgba(202, 138, 4, 0.55); }
.g-unsupported { text-decoration: underline wavy rgba(220, 38, 38, 0.85); text-underline-offset: 3px;
  background: rgba(239, 68, 68, 0.10); border-radius: 2px; }
.g-tag { display: inline-block; margin-left: 0.3em; padding: 0 0.4em; border-radius: 0.5em; font-size: 0.75em;
  font-weight: 600; color: var(--body-text-color); background: rgba(245, 158, 11, 0.22);
  border: 1px solid rgba(217, 119, 6, 0.7); }
.g-abstain { border: 1px solid var(--border-color-primary, rgba(128, 128, 128, 0.4));
  border-left: 4px solid var(--color-accent, #6366f1); border-radius: 6px; padding: 0.6em 0.8em;
  background: var(--background-fill-secondary, rgba(128, 128, 128, 0.08)); color: var(--body-text-color); }
.g-abstain-title { font-weight: 700; font-size: 1.05em; }
.g-abstain-reason { color: var(--body-text-color-subdued); font-size: 0.88em; margin-top: 0.2em; }
.g-closest { margin-top: 0.6em; }
.g-closest-title { font-weight: 600; font-size: 0.9em; }
.g-closest-list { margin: 0.2em 0 0 1.2em; padding: 0; }
.g-closest-list li { margin: 0.3em 0; }
.g-preview { color: var(--body-text-color-subdued); font-size: 0.88em; }
.g-src, .g-file { font-weight: 600; font-size: 0.9em; }
.g-range, .g-source-meta, .g-detail { color: var(--body-text-color-subdued); font-size: 0.85em; }
.g-note { color: var(--body-text-color-subdued); font-size: 0.85em; font-style: italic; margin: 0.3em 0; }
.g-source { color: var(--body-text-color); }
.g-source-head { font-weight: 600; margin-bottom: 0.2em; }
.g-source-missing { color: var(--body-text-color-subdued); font-style: italic; }
.g-passage { white-space: pre-wrap; line-height: 1.55; margin-top: 0.5em; padding: 0.5em 0.7em; border-radius: 6px;
  border: 1px solid var(--border-color-primary, rgba(128, 128, 128, 0.4));
  background: var(--background-fill-secondary, rgba(128, 128, 128, 0.06)); max-height: 32em; overflow-y: auto; }
.g-context { color: var(--body-text-color-subdued); }
.g-in-context .g-passage-text { border-left: 3px solid var(--color-accent, #6366f1); padding-left: 0.2em; }
.g-glass { color: var(--body-text-color); font-size: 0.92em; }
.g-glass-title { margin: 0 0 0.4em 0; }
.g-step { border: 1px solid var(--border-color-primary, rgba(128, 128, 128, 0.4)); border-radius: 6px;
  padding: 0.3em 0.7em; margin: 0.5em 0; }
.g-step > summary { font-weight: 700; cursor: pointer; padding: 0.2em 0; }
.g-lists { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 0.8em; }
.g-list h4, .g-step h4 { margin: 0.5em 0 0.2em 0; }
.g-table { border-collapse: collapse; width: 100%; font-size: 0.88em; margin: 0.3em 0; }
.g-table th, .g-table td { border: 1px solid var(--border-color-primary, rgba(128, 128, 128, 0.35));
  padding: 0.2em 0.4em; text-align: left; vertical-align: top; color: var(--body-text-color); }
.g-table th { background: var(--background-fill-secondary, rgba(128, 128, 128, 0.1)); font-weight: 600; }
.g-table td.g-score, .g-table td.g-rank { font-variant-numeric: tabular-nums; white-space: nowrap; }
.g-table td.g-range { white-space: nowrap; }
.g-fused tr.g-out td { opacity: 0.6; }
.g-fused tr.g-cited td { font-weight: 600; }
.g-cutoff-row td { border-top: 3px dashed var(--color-accent, #6366f1) !important; font-weight: 700; text-align: center;
  color: var(--body-text-color); background: var(--color-accent-soft, rgba(99, 102, 241, 0.12)); }
.g-cutoff-note { font-weight: 600; }
.g-seen { font-weight: 700; color: var(--body-text-color); }
.g-chosen td { background: rgba(34, 197, 94, 0.14); }
.g-checks tr.g-status-unsupported td, .g-checks tr.g-status-off-topic td { background: rgba(239, 68, 68, 0.10); }
.g-checks tr.g-hidden td { opacity: 0.65; }
.g-messages { display: flex; flex-direction: column; gap: 0.4em; }
.g-msg { border: 1px solid var(--border-color-primary, rgba(128, 128, 128, 0.4)); border-radius: 6px; overflow: hidden; }
.g-role { font-size: 0.8em; font-weight: 700; text-transform: uppercase; letter-spacing: 0.04em; padding: 0.15em 0.6em;
  background: var(--background-fill-secondary, rgba(128, 128, 128, 0.1)); color: var(--body-text-color); }
.g-pre { white-space: pre-wrap; word-break: break-word; margin: 0; padding: 0.5em 0.7em; font-size: 0.85em;
  max-height: 28em; overflow-y: auto; color: var(--body-text-color); background: transparent; }
.g-kv { display: grid; grid-template-columns: max-content 1fr; gap: 0.1em 0.8em; font-size: 0.85em; }
.g-kv dd { margin: 0; }
.g-key { color: var(--body-text-color-subdued); font-size: 0.85em; }
.g-history { margin: 0 0 0 1.4em; padding: 0; }
.g-more > summary { cursor: pointer; font-size: 0.85em; color: var(--body-text-color-subdued); }
"""
