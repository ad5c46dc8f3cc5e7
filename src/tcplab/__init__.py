"""tcplab."""
