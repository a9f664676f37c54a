"""The render layer's vocabularies that live beside heavier modules: light, so the command line
builds its choice lists from them at start-up without importing the renderers (issue 16)."""

CHECK_FORMATS = ("table", "json", "github", "junit")  # render.report.render_check
DIAGRAM_LEVELS = ("network", "stage", "block")  # render.diagrams.diagram(level=)
DIAGRAM_FORMATS = ("svg", "dot", "mermaid")  # render.diagram_render.WRITERS
EXPORT_FORMATS = ("onnx", "pytorch", "keras")  # execute.export.FORMATS (export --to)
