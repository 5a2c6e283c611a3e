"""整改: commands, the guided 交办, exports, the problems import."""
