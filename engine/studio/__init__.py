"""The YAML editor's studio: what a person editing the YAML uses to see their work (the flow
as a graph, a gallery of windows, a chat in the terminal, editor schemas)."""
