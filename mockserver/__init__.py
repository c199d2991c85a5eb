"""The contract-driven mock server for the Crosmos usage endpoint."""
