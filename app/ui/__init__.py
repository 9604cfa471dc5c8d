"""Qt widgets of the annotation workspace: they show the state and forward intent."""
