"""HTML for the Gradio app, one module per concept; `ui.render` re-exports the public names."""
