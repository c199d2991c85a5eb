"""The conformance suite: certify any implementation of the Crosmos usage endpoint."""
