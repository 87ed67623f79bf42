"""What `gigalearn.graph` and `gigalearn.wm` really share: errors, config loading, atomic writes."""
